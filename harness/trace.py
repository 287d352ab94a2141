"""One booking's path through a recorded run: every hop, its fault decision and outcome, each party's view.

A booking's hops are the journal entries that name its UBRN, and those caused by the practice's
messages for it (found by request id: the UBRN is not known when it is being allocated).
"""

from __future__ import annotations

from pathlib import Path

from .run_record import RunFolderError, RunRecord, load_run
from .workload import MAX_BOOK_ATTEMPTS, request_id

HOP_FIELDS = ("seq", "link", "event", "message_id", "bundle_id", "origin_id", "attempt", "purpose", "decision",
              "rule_id", "outcome", "status", "delivered", "latency_ms", "at")


class TraceError(RunFolderError):
    """No such booking in the run folder."""


def rules_by_id(scenario: dict) -> dict[str, dict]:
    """The scenario's fault rules under the ids the broker gave them (r1, r2... for those without one)."""
    out, auto = {}, 0
    for rule in scenario.get("faults") or []:
        rule_id = rule.get("id")
        if not rule_id:
            auto += 1
            rule_id = f"r{auto}"
        out[rule_id] = rule
    return out


def _rule_text(rule: dict | None) -> str | None:
    if rule is None:
        return None
    plan = next((f"{k}={rule[k]}" for k in ("probability", "nth", "every") if rule.get(k) is not None), "always")
    return f"{rule.get('action')} on {rule.get('link')} {rule.get('event') or '*'} ({plan})"


def booking_requests(record: RunRecord, booking: dict | None) -> set[str]:
    if booking is None:
        return set()
    seed = record.scenario.get("seed", 0)
    attempts = max(1, min(int(booking.get("attempts") or 1), MAX_BOOK_ATTEMPTS))
    return {request_id(seed, record.id_salt, booking["index"], a) for a in range(1, attempts + 1)}


def booking_hops(journal: list[dict], ubrn: str, requests: set[str]) -> list[dict]:
    # The practice's request may have gone unanswered (so it has no UBRN on record): the messages
    # that name the UBRN also name the request that caused them.
    origins = requests | {e["origin_id"] for e in journal if e.get("ubrn") == ubrn and e.get("origin_id")}
    return [e for e in journal
            if e.get("ubrn") == ubrn or e.get("origin_id") in origins or e.get("bundle_id") in origins]


def trace_booking(folder: Path, ubrn: str) -> dict:
    """Everything the run folder knows of one booking; raises TraceError / RunFolderError (one line)."""
    record = load_run(folder)
    booking = next((b for b in record.bookings() if b.get("ubrn") == ubrn), None)
    hops = booking_hops(record.journal(), ubrn, booking_requests(record, booking))
    views = record.views().get(ubrn)
    if not hops and views is None and booking is None:
        raise TraceError(f"no booking with UBRN {ubrn} in {folder}")
    rules = rules_by_id(record.scenario)
    discrepancies = [d for d in record.reconciliation().get("discrepancies", []) if d.get("ubrn") == ubrn]
    return {
        "ubrn": ubrn,
        "folder": str(folder),
        "booking": booking,
        "hops": [{**{k: e.get(k) for k in HOP_FIELDS}, "rule": _rule_text(rules.get(e.get("rule_id")))}
                 for e in hops],
        "views": {party: (views or {}).get(party) for party in ("broker", "pas", "spine", "gp")},
        "discrepancies": [{k: d.get(k) for k in ("kind", "party", "detail")} for d in discrepancies],
    }
