"""A run folder built by hand: a journal, bookings and a reconciliation whose report is known exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.run.folder import write_json, write_jsonl
from harness.scenario.model import Scenario

HOSTILE_LINK = "broker->pas:<script>alert(1)</script>"


def entry(seq: int, t: float | None, link: str, *, ubrn: str | None = None, delivered: bool = True,
          decision: str = "pass", outcome: str | None = None, event: str = "booking-request") -> dict:
    return {"seq": seq, "at": "2027-01-04T09:00:00", "elapsed_s": t, "link": link, "event": event,
            "message_id": f"m{seq}", "bundle_id": f"b{seq}", "ubrn": ubrn, "decision": decision,
            "rule_id": None if decision == "pass" else "r1",
            "outcome": outcome or ("delivered" if delivered else "timeout"), "delivered": delivered,
            "status": 200 if delivered else None, "latency_ms": 1.5, "attempt": 1, "purpose": "delivery"}


def view(status: str = "booked", trust: str = "RT1") -> dict:
    return {"status": status, "slot": f"{trust.lower()}-slot-1", "start": "2027-01-04T09:00:00Z",
            "end": "2027-01-04T09:10:00Z", "trust": trust, "practice": "Y90001"}


def discrepancy(ubrn: str, kind: str, detail: str) -> dict:
    pas = [] if kind == "missing_at_pas" else [view()]
    return {"ubrn": ubrn, "kind": kind, "party": "pas", "detail": detail,
            "views": {"broker": view(), "pas": pas, "spine": view(), "gp": view()}}


def write_run(folder: Path, journal: list[dict], discrepancies: list[dict], bookings: list[dict] | None = None,
              scenario: dict | None = None, summary: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    scenario = scenario or Scenario(name="synthetic", seed=5).model_dump(by_alias=True, exclude_none=True)
    kinds = dict(Counter(d["kind"] for d in discrepancies))
    disagreeing = len({d["ubrn"] for d in discrepancies})
    write_json(folder / "scenario.json", scenario)
    write_json(folder / "summary.json", summary or {
        "run": {"seed": 5, "stack": "embedded"}, "bookings": {"attempted": 4, "accepted": 4},
        "latency_ms": {"p50": 10.0, "p99": 20.0}, "reconciliation": {"disagreeing": disagreeing, "error_rate": 0.5}})
    write_jsonl(folder / "journal.jsonl", journal)
    write_jsonl(folder / "bookings.jsonl", bookings or [])
    write_json(folder / "reconciliation.json", {
        "attempted": 4, "checked": 4, "disagreeing": disagreeing, "error_rate": 0.5,
        "counts": kinds, "discrepancies": discrepancies, "notes": []})
    return folder
