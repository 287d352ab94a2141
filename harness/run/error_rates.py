"""Error rates and the bounds CI puts on them.

- Per link, from the journal: failed deliveries over attempts, by event. An attempt is one try by the
  sender (a duplicate's extra copies are not; a message held back by `reorder` counts once, as its
  release). It failed when the receiver did not get and process it: dropped, timed out, unreachable,
  an injected error, a body corrupted so the receiver had to reject it, or the receiver's own 5xx.
  A receiver that got the message and refused it for a reason of its own (slot taken, unknown
  booking: a 4xx with no fault injected) is a link that worked. A lost ack is a delivery.
- End to end, from a reconciliation: bookings on which the parties disagree over bookings attempted.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from harness.reconcile.sources import PartyUnreachable
from harness.cli.errors import UsageError

# Fault actions under which a 4xx is the fault's doing rather than the receiver's choice.
INJECTED_REFUSALS = frozenset({"error", "corrupt"})


def delivery_failed(entry: dict) -> bool | None:
    """True/False for an attempt; None for an entry that is not one (copies, a hold before release)."""
    if entry.get("decision") == "duplicate-copy" or entry.get("outcome") == "held":
        return None
    if entry.get("delivered"):
        return False
    if entry.get("outcome") == "rejected" and entry.get("decision") not in INJECTED_REFUSALS:
        return False
    return True


def _rate(failed: int, attempts: int) -> float:
    return round(failed / attempts, 6) if attempts else 0.0


def link_rates(journal: Iterable[dict]) -> dict[str, dict]:
    """{link: {attempts, failed, rate, events: {event: {attempts, failed, rate}}}}."""
    counts: dict[str, dict[str, list[int]]] = {}
    for e in journal:
        failed = delivery_failed(e)
        if failed is None:
            continue
        c = counts.setdefault(e.get("link") or "?", {}).setdefault(e.get("event") or "?", [0, 0])
        c[0] += 1
        c[1] += failed
    out = {}
    for link, events in sorted(counts.items()):
        attempts = sum(a for a, _ in events.values())
        failures = sum(f for _, f in events.values())
        out[link] = {"attempts": attempts, "failed": failures, "rate": _rate(failures, attempts),
                     "events": {ev: {"attempts": a, "failed": f, "rate": _rate(f, a)}
                                for ev, (a, f) in sorted(events.items())}}
    return out


# -- the journal -------------------------------------------------------------------------------------

class JournalError(UsageError, RuntimeError):
    """A journal that cannot be read; one line for the user."""


async def read_journal(client: httpx.AsyncClient, broker: str, since: int = 0, page: int = 5000) -> list[dict]:
    """The broker's journal after sequence number `since`, every page."""
    entries: list[dict] = []
    url = f"{broker.rstrip('/')}/journal"
    while True:
        try:
            r = await client.get(url, params={"since": since, "_count": page})
        except httpx.HTTPError as exc:
            raise PartyUnreachable("broker", broker, type(exc).__name__) from exc
        if r.status_code != 200:
            raise PartyUnreachable("broker", broker, f"GET /journal answered {r.status_code}")
        body = r.json()
        entries += body.get("entries", [])
        if "next" not in body:
            return entries
        since = body["last"]


def load_journal(path: Path) -> list[dict]:
    """A run folder's journal.jsonl."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror}") from None
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise JournalError(f"{path}: line {n} is not JSON") from None
    return out


# -- bounds ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    min: float | None = None
    max: float | None = None

    def miss(self, value: float) -> str | None:
        """How the value misses the bound, or None when within it."""
        if self.max is not None and value > self.max:
            return f"exceeds the maximum {self.max:g}"
        if self.min is not None and value < self.min:
            return f"is below the minimum {self.min:g}"
        return None


def split_link_glob(spec: str) -> tuple[str, str | None]:
    """`broker->pas:*` bounds each matching link; `broker->pas:*#booking-request` one event on each."""
    link, sep, event = spec.partition("#")
    return link, (event if sep else None)


def matching_rates(rates: dict[str, dict], spec: str) -> list[tuple[str, dict]]:
    link_glob, event_glob = split_link_glob(spec)
    out = []
    for link, entry in rates.items():
        if not fnmatch.fnmatchcase(link, link_glob):
            continue
        if event_glob is None:
            out.append((link, entry))
        else:
            out += [(f"{link}#{ev}", e) for ev, e in entry["events"].items() if fnmatch.fnmatchcase(ev, event_glob)]
    return out


def _exact(entry: dict, part: str, whole: str, rounded: str) -> float:
    """The ratio itself, not its rounded display: a bound of 1/60 must pass 1 failure in 60."""
    if entry.get(whole):
        return entry[part] / entry[whole]
    return entry.get(rounded, 0.0)


def link_bound_misses(rates: dict[str, dict], spec: str, bound: Bound) -> list[str]:
    matched = matching_rates(rates, spec)
    if not matched:
        return [f"link {spec!r} matches no link in the journal"]
    out = []
    for name, entry in matched:
        miss = bound.miss(_exact(entry, "failed", "attempts", "rate"))
        if miss:
            out.append(f"link {name} error rate {entry['rate']:.4f} {miss} ({entry['failed']} of "
                       f"{entry['attempts']} attempts failed; bound on {spec!r})")
    return out


def end_to_end_miss(summary: dict, bound: Bound) -> str | None:
    miss = bound.miss(_exact(summary, "disagreeing", "attempted", "error_rate"))
    if miss:
        return (f"end-to-end error rate {summary['error_rate']:.4f} {miss} ({summary['disagreeing']} of "
                f"{summary['attempted']} bookings disagree)")
    return None


def _bound(b) -> Bound:
    return Bound(getattr(b, "min", None), getattr(b, "max", None))


def expectation_misses(expect, summary: dict, rates: dict[str, dict] | None, score: dict | None) -> list[str]:
    """Every way a run missed its scenario's `expect` block (harness.scenario.model.Expectations)."""
    if expect is None:
        return []
    out: list[str] = []
    if expect.error_rate is not None:
        miss = end_to_end_miss(summary, _bound(expect.error_rate))
        if miss:
            out.append(f"expect.error_rate: {miss}")
    if expect.discrepancies is not None:
        counts = summary["counts"]
        for kind, bound in expect.discrepancies:
            if bound is None:
                continue
            value = sum(counts.values()) if kind == "total" else counts.get(kind, 0)
            miss = _bound(bound).miss(value)
            if miss:
                out.append(f"expect.discrepancies.{kind}: {value} {miss}")
    for spec, bound in (expect.links or {}).items():
        out += [f"expect.links[{spec!r}]: {m}" for m in link_bound_misses(rates or {}, spec, _bound(bound))]
    if expect.score is not None and score is not None:
        for name in ("precision", "recall"):
            bound = getattr(expect.score, name)
            if bound is not None and (miss := _bound(bound).miss(score[name])):
                out.append(f"expect.score.{name}: {score[name]:.4f} {miss}")
    return out
