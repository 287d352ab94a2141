"""`report.json`: what a run's report page shows, gathered from its run folder in one document.

- scenario and summary: as the run wrote them;
- `configured` (input) and `measured` (outcome): the fault rules in force and the receivers' settings,
  apart from what the run measured, per rule side by side (harness/run/inputs.py);
- per link, the delivery error rate over time: the journal's attempts bucketed by `elapsed_s`
  (the broker's fault clock, which may be simulated: the report never reads wall time), per event
  too, each smoothed over enough attempts to read, and combined over each family of links;
- discrepancy counts by kind, from the reconciliation;
- the lost bookings (those the parties disagree on, `missing_at_pas` first), each with its trace:
  the journal's hops for its UBRN and each party's final view.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from harness.cli.errors import UsageError
from harness.run.error_rates import JournalError, delivery_failed, link_rates, load_journal
from harness.run.inputs import inputs_and_outcomes, rules_of_run
from harness.run.record import MIDDLEWARE_QUEUE, middleware_journal
from harness.reconcile.legacy import joined
from harness.reconcile.kinds import DESCRIPTIONS, KINDS, MISSING_AT_PAS
from harness.replay.trace import Tracer

REPORT_VERSION = 1
MAX_LOST = 500                      # bookings listed (and traced) in the report; the rest are counted
MIN_BUCKETS, MAX_BUCKETS = 20, 60
ATTEMPTS_PER_BUCKET = 5             # aim: the busiest link has about this many attempts per bucket
# A smoothed point pools the buckets around its own until they hold this many attempts: a link with
# one or two attempts a bucket otherwise jumps between 0% and 100% and no rate can be read off it.
SMOOTH_ATTEMPTS = 20
RUN_FILES = ("scenario.json", "summary.json", "journal.jsonl", "reconciliation.json")


class ReportError(UsageError, RuntimeError):
    """A folder the report cannot be made from; one line for the user."""


# -- time series ---------------------------------------------------------------------------------------

def bucket_count(attempts_on_busiest_link: int) -> int:
    """Enough buckets to show a trend, few enough that each holds several attempts."""
    return max(MIN_BUCKETS, min(MAX_BUCKETS, attempts_on_busiest_link // ATTEMPTS_PER_BUCKET))


@dataclass(frozen=True)
class Buckets:
    start: float
    width: float
    count: int

    def index(self, t: float) -> int:
        if self.width <= 0:
            return 0
        return min(self.count - 1, max(0, math.floor((t - self.start) / self.width)))

    def edges(self) -> list[float]:
        return [round(self.start + i * self.width, 6) for i in range(self.count + 1)]


def link_family(link: str) -> str:
    """`broker->pas:RT1` -> `broker->pas:*`: the links plotted, and combined, together."""
    return re.sub(r":[^>\-]+", ":*", link)


def smoothed(attempts: list[int], failed: list[int], need: int = SMOOTH_ATTEMPTS) -> list[float | None]:
    """Per bucket with attempts: failures over attempts in the narrowest window of buckets centred on
    it that holds at least `need` attempts (the whole run when it holds fewer). None where the bucket
    itself has no attempt, so a gap stays a gap."""
    n = len(attempts)
    at, fl = [0], [0]
    for a, f in zip(attempts, failed):
        at.append(at[-1] + a)
        fl.append(fl[-1] + f)
    out: list[float | None] = []
    for i in range(n):
        if not attempts[i]:
            out.append(None)
            continue
        k = 0
        while True:
            lo, hi = max(0, i - k), min(n, i + k + 1)
            if at[hi] - at[lo] >= need or (lo == 0 and hi == n):
                break
            k += 1
        out.append(round((fl[hi] - fl[lo]) / (at[hi] - at[lo]), 6))
    return out


def _series(attempts: list[int], failed: list[int]) -> dict:
    return {"attempts": attempts, "failed": failed,
            "rate": [round(f / a, 6) if a else None for a, f in zip(attempts, failed)],
            "smoothed": smoothed(attempts, failed)}


def _summed(parts: list[dict], count: int) -> dict:
    return _series([sum(p["attempts"][i] for p in parts) for i in range(count)],
                   [sum(p["failed"][i] for p in parts) for i in range(count)])


def error_rate_series(journal: list[dict], buckets: int | None = None) -> dict:
    """Attempts, failures and the error rate per link per time bucket; every link on the same buckets.

    An attempt and its failure are as `harness.run.error_rates` counts them for the link totals, so the
    buckets of a link add up to its total. A bucket with no attempt has rate None (a gap, not a 0).
    Each link's series is also split by event (a trust link carries slot searches that never fail
    beside the bookings that do), each has a `smoothed` rate (see `smoothed`), and `families`
    sums the links of each family (`broker->pas:*`), per event and in all.
    """
    attempts: list[tuple[dict, bool]] = []
    untimed = 0
    for e in journal:
        failed = delivery_failed(e)
        if failed is None:
            continue
        if isinstance(e.get("elapsed_s"), (int, float)):
            attempts.append((e, failed))
        else:
            untimed += 1
    if not attempts:
        return {"clock": "elapsed_s", "edges": [], "smooth_attempts": SMOOTH_ATTEMPTS, "links": {}, "families": {},
                "untimed_attempts": untimed}
    per_link = Counter(e.get("link") or "?" for e, _ in attempts)
    n = buckets or bucket_count(max(per_link.values()))
    times = [e["elapsed_s"] for e, _ in attempts]
    t0, t1 = min(times), max(times)
    grid = Buckets(t0, (t1 - t0) / n, n if t1 > t0 else 1)
    counts = {link: ([0] * grid.count, [0] * grid.count) for link in sorted(per_link)}
    by_event: dict[str, dict[str, tuple[list[int], list[int]]]] = {link: {} for link in counts}
    for e, failed in attempts:
        link = e.get("link") or "?"
        i = grid.index(e["elapsed_s"])
        for tried, lost in (counts[link], by_event[link].setdefault(
                e.get("event") or "?", ([0] * grid.count, [0] * grid.count))):
            tried[i] += 1
            lost[i] += failed
    links = {link: {**_series(tried, lost),
                    "events": {ev: _series(*pair) for ev, pair in sorted(by_event[link].items())}}
             for link, (tried, lost) in counts.items()}
    families: dict[str, dict] = {}
    for link in links:
        families.setdefault(link_family(link), {"links": []})["links"].append(link)
    for fam in families.values():
        members = [links[link] for link in fam["links"]]
        events = sorted({ev for m in members for ev in m["events"]})
        fam["all"] = _summed(members, grid.count)
        fam["events"] = {ev: _summed([m["events"][ev] for m in members if ev in m["events"]], grid.count)
                         for ev in events}
    return {"clock": "elapsed_s", "edges": grid.edges(), "smooth_attempts": SMOOTH_ATTEMPTS, "links": links,
            "families": families, "untimed_attempts": untimed}


# -- lost bookings and their traces --------------------------------------------------------------------

def lost_bookings(reconciliation: dict, tracer: Tracer, limit: int = MAX_LOST) -> tuple[list[dict], int]:
    """(the first `limit` bookings the parties disagree on, how many there are), missing_at_pas first."""
    by_ubrn: dict[str, dict] = {}
    for d in reconciliation.get("discrepancies", []):
        row = by_ubrn.setdefault(d["ubrn"], {"ubrn": d["ubrn"], "kinds": [], "details": [],
                                             "views": d.get("views")})
        if d["kind"] not in row["kinds"]:
            row["kinds"].append(d["kind"])
        row["details"].append(d.get("detail"))
    rank = {kind: i for i, kind in enumerate(KINDS)}
    ordered = sorted(by_ubrn.values(), key=lambda r: (MISSING_AT_PAS not in r["kinds"],
                                                     min(rank.get(k, len(KINDS)) for k in r["kinds"]), r["ubrn"]))
    shown = ordered[:limit]
    for row in shown:
        trace = tracer.trace(row["ubrn"])
        row["booking"] = trace["booking"]
        row["hops"] = trace["hops"]
        row["lost_in_restarts"] = trace.get("lost_in_restarts") or []
    return shown, len(ordered)


# -- the document --------------------------------------------------------------------------------------

def _read_json(path: Path):
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise ReportError(f"{path} is not JSON") from None


def _read_jsonl(path: Path) -> list[dict]:
    """An optional run file: absent in a folder written before it existed."""
    if not path.is_file():
        return []
    try:
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        raise ReportError(f"{path}: a line is not JSON") from None
    return [r for r in rows if isinstance(r, dict)]


def run_tracer(folder: Path, scenario: dict, journal: list[dict], reconciliation: dict) -> Tracer:
    manifest = _read_json(folder / "manifest.json") if (folder / "manifest.json").is_file() else {}
    return Tracer(scenario=scenario, id_salt=str(manifest.get("id_salt", "")), journal=journal,
                  bookings=_read_jsonl(folder / "bookings.jsonl"),
                  views={v["ubrn"]: v for v in _read_jsonl(folder / "views.jsonl") if v.get("ubrn")},
                  discrepancies=reconciliation.get("discrepancies", []), folder=folder,
                  # The middleware's restarts, so a booking its memory queue lost shows the restart.
                  restarts=(_read_json(folder / MIDDLEWARE_QUEUE).get("restarts") or []
                            if (folder / MIDDLEWARE_QUEUE).is_file() else []))


def check_run_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a run folder (no such directory)")
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise ReportError(f"{folder} is not a run folder (no {', '.join(missing)})")


def build_report(folder: Path, max_lost: int = MAX_LOST) -> dict:
    check_run_folder(folder)
    scenario = _read_json(folder / "scenario.json")
    summary = _read_json(folder / "summary.json")
    reconciliation = _read_json(folder / "reconciliation.json")
    try:
        journal = load_journal(folder / "journal.jsonl")
    except JournalError as exc:
        raise ReportError(str(exc)) from None
    if not all(isinstance(d, dict) for d in (scenario, summary, reconciliation)):
        raise ReportError(f"{folder}: scenario.json, summary.json and reconciliation.json must be JSON objects")
    lost, lost_total = lost_bookings(reconciliation, run_tracer(folder, scenario, journal, reconciliation), max_lost)
    counts = reconciliation.get("counts") or {}
    rates = link_rates(journal)
    return {
        "version": REPORT_VERSION,
        "run": folder.name,
        "scenario": scenario,
        "summary": summary,
        **inputs_and_outcomes(rules_of_run(summary, scenario), scenario, joined(journal, middleware_journal(folder)),
                              reconciliation, rates),
        "links": rates,
        "error_rate_series": error_rate_series(journal),
        "discrepancies": {
            "counts": {k: counts.get(k, 0) for k in KINDS},
            "descriptions": dict(DESCRIPTIONS),
            "total": sum(counts.get(k, 0) for k in KINDS),
            "disagreeing": reconciliation.get("disagreeing"),
            "attempted": reconciliation.get("attempted"),
            "error_rate": reconciliation.get("error_rate"),
            "score": reconciliation.get("score"),
        },
        "lost": {"total": lost_total, "shown": len(lost), "bookings": lost},
    }
