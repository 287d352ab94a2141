"""Comparing a replay with its recording: the journals and the reconciliation reports.

Journal entries are matched by what they record (link, event, message, cause, attempt, purpose, and
which occurrence of that message it is), not by sequence number: concurrent bookings interleave
differently from run to run, and the order that matters is each message's own. Matched entries must
agree in every field but the wall-clock ones; on a virtual clock `at` and `latency_ms` are simulated
time, the same in a faithful replay, so they must agree too (`timed`). `elapsed_s` never is compared:
it is the fault engine's own reckoning (time since its plan was put, and 0 whenever it has no rules,
which a replay's engine, holding a script, always has), and `at` already says when.

A run with legacy trusts has a second journal, the middleware's, compared the same way, and the
middleware's restarts (when, why, what each lost), which no journal entry records.
"""

from __future__ import annotations

from party_common.journal_entries import WALL_CLOCK_FIELDS, occurrences

IGNORED_FIELDS = frozenset(WALL_CLOCK_FIELDS) | {"seq"}
TIMED_IGNORED_FIELDS = frozenset({"seq", "elapsed_s"})


def _describe(ident) -> str:
    (link, event, message_id, origin_id, attempt, purpose), kind, n = ident
    which = f"message {message_id}" if message_id else (f"caused by {origin_id}" if origin_id else "no message id")
    extra = "" if kind == "decision" else f" ({kind})"
    again = f" #{n}" if n > 1 else ""
    return f"{link} {event} {which} attempt {attempt}{' ' + purpose if purpose != 'delivery' else ''}{extra}{again}"


def _indexed(entries: list[dict]) -> dict:
    return {ident: e for e, ident in zip(entries, occurrences(entries))}


def journal_differences(then: list[dict], now: list[dict], *, name: str = "journal",
                        timed: bool = False) -> list[str]:
    """Every difference between two journals, each line starting with `name` (which journal)."""
    recorded, replayed = _indexed(then), _indexed(now)
    ignored = TIMED_IGNORED_FIELDS if timed else IGNORED_FIELDS
    out: list[str] = []
    for ident, old in recorded.items():
        new = replayed.get(ident)
        if new is None:
            out.append(f"{name}: {_describe(ident)}: recorded (outcome {old.get('outcome')}), not in the replay")
            continue
        for field in sorted((old.keys() | new.keys()) - ignored):
            if old.get(field) != new.get(field):
                out.append(f"{name}: {_describe(ident)}: {field} was {old.get(field)!r}, now {new.get(field)!r}")
    for ident, new in replayed.items():
        if ident not in recorded:
            out.append(f"{name}: {_describe(ident)}: in the replay (outcome {new.get('outcome')}), not recorded")
    return out


RESTART_FIELDS = ("reason", "queue", "lost")


def restart_differences(then: list[dict], now: list[dict], *, timed: bool = False) -> list[str]:
    """The middleware's restarts, in order: why, in which queue mode, and what each lost (and when, on a
    virtual clock: on the system clock a restart's time is the machine's)."""
    fields = ("at", *RESTART_FIELDS) if timed else RESTART_FIELDS
    out = []
    for i, (old, new) in enumerate(zip(then, now), 1):
        for f in fields:
            if old.get(f) != new.get(f):
                out.append(f"middleware restart #{i}: {f} was {_short(old.get(f))}, now {_short(new.get(f))}")
    if len(then) != len(now):
        out.append(f"middleware restarts: {len(then)} recorded, {len(now)} in the replay")
    return out


def comparable_report(report: dict, urls: dict[str, str]) -> dict:
    """A reconciliation report as a replay must reproduce it: party URLs written as <party>, and the
    discrepancies in UBRN order (the report lists them in the order the parties' exports came)."""
    report = without_urls(report, urls)
    found = report.get("discrepancies")
    if isinstance(found, list):
        report["discrepancies"] = sorted(found, key=lambda d: (d.get("ubrn") or "", d.get("kind") or "",
                                                              d.get("party") or "", d.get("detail") or ""))
    return report


def without_urls(value, urls: dict[str, str]):
    """The report with each party's base URL written as <party>: a replay's stack listens elsewhere."""
    if isinstance(value, dict):
        return {k: without_urls(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [without_urls(v, urls) for v in value]
    if isinstance(value, str):
        for party, url in urls.items():
            if url and url in value:
                value = value.replace(url, f"<{party}>")
    return value


def report_differences(then, now, path: tuple = ()) -> list[str]:
    """Every place two reconciliation reports differ, as `path: was X, now Y`."""
    if isinstance(then, dict) and isinstance(now, dict):
        out = []
        for key in sorted(then.keys() | now.keys(), key=str):
            out += report_differences(then.get(key), now.get(key), (*path, key))
        return out
    if isinstance(then, list) and isinstance(now, list) and len(then) == len(now):
        out = []
        for i, (a, b) in enumerate(zip(then, now)):
            out += report_differences(a, b, (*path, i))
        return out
    if then != now:
        where = ".".join(str(p) for p in path) or "(whole report)"
        return [f"reconciliation: {where} was {_short(then)}, now {_short(now)}"]
    return []


def _short(value, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
