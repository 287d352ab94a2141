"""A replay of a run with legacy trusts, without a stack: the middleware's script from its journal, what
is compared (its journal, its restarts, the times on a virtual clock), the free MLLP ports, and a
trace that names the restart that lost a booking."""

from __future__ import annotations

import asyncio
import io
import socket
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
import pytest
from rich.console import Console

from harness.cli.replay import render_trace
from harness.replay.compare import journal_differences, restart_differences
from harness.replay.plan import ReplayPlan, Script, plan_for
from harness.replay.run import compare_runs, free_mllp_port
from harness.replay.trace import Tracer
from harness.run.record import MIDDLEWARE_JOURNAL, MIDDLEWARE_QUEUE, load_run
from harness.stack.embedded import StackError
from harness.stack.endpoints import StackUrls

LOST = "000000000007"


def _entry(seq: int, link: str, event: str, *, origin: str | None = None, message_id: str | None = None,
           attempt: int = 1, decision: str = "pass", rule_id: str | None = None, outcome: str = "delivered",
           at: str = "2027-01-04T09:00:00", ubrn: str | None = LOST, journal: str | None = None) -> dict:
    e = {"seq": seq, "at": at, "elapsed_s": 1.0, "latency_ms": 5.0, "link": link, "event": event,
         "message_id": message_id, "bundle_id": None, "origin_id": origin, "ubrn": ubrn, "attempt": attempt,
         "purpose": "delivery", "decision": decision, "rule_id": rule_id, "outcome": outcome,
         "delivered": outcome == "delivered", "status": 200 if outcome == "delivered" else None}
    return {**e, "journal": journal} if journal else e


BROKER = [_entry(1, "broker->pas:RT1", "booking-request", message_id="h1", at="2027-01-04T09:00:00")]
MIDDLEWARE = [
    _entry(1, "middleware->spine", "patient-read", origin="b1", decision="outage", rule_id="r1",
           outcome="unreachable", at="2027-01-04T09:00:01", journal="middleware"),
    _entry(2, "middleware->spine", "patient-read", origin="b1", attempt=2, decision="outage", rule_id="r1",
           outcome="unreachable", at="2027-01-04T09:00:06", journal="middleware"),
    _entry(3, "middleware->spine", "patient-read", origin="b2", at="2027-01-04T09:20:00", ubrn="000000000008",
           journal="middleware"),
]
# At the instant of the last failed look-up, as a restart is: it follows that look-up.
RESTARTS = [{"at": "2027-01-04T09:00:06+00:00", "reason": "60 spine look-ups in a row failed", "queue": "memory",
             "lost": [{"ubrn": LOST, "event": "booking-request", "bundle_id": "b1", "control_id": "c1"}]}]
# A broker rule and a middleware rule: each party numbers its own, so both are r1.
SCENARIO = {"seed": 7, "clock": {"mode": "virtual"}, "legacy": {"trusts": ["RT1"]},
            "faults": [{"link": "broker->gp:*", "action": "duplicate", "probability": 0.1},
                       {"link": "middleware->spine", "action": "outage", "params": {"period_s": 1800, "duty": 0.7}}]}


def _lines(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _folder(path: Path, middleware: list[dict] | None = MIDDLEWARE, restarts: list[dict] | None = None) -> Path:
    path.mkdir()
    files = {"journal.jsonl": _lines(BROKER), "messages.jsonl": b"", "bookings.jsonl": b"", "views.jsonl": b"",
             "manifest.json": orjson.dumps({"format": "testbed-run", "version": 1, "id_salt": "3"}),
             "scenario.json": orjson.dumps(SCENARIO), "summary.json": orjson.dumps({"run": {"urls": {}}}),
             "reconciliation.json": orjson.dumps({"discrepancies": [{"ubrn": LOST, "kind": "missing_at_pas"}]})}
    if middleware is not None:
        files[MIDDLEWARE_JOURNAL] = _lines(middleware)
        files[MIDDLEWARE_QUEUE] = orjson.dumps({"mode": "memory", "restarts": RESTARTS if restarts is None
                                                else restarts})
    for name, data in files.items():
        (path / name).write_bytes(data)
    return path


def test_the_plan_scripts_the_middleware_from_its_journal(tmp_path):
    plan = plan_for(load_run(_folder(tmp_path / "legacy")))
    assert plan.middleware is not None
    assert [(d["link"], d["origin_id"], d["attempt"], d["rule_id"]) for d in plan.middleware.decisions] == [
        ("middleware->spine", "b1", 1, "r1"), ("middleware->spine", "b1", 2, "r1")]
    assert plan.middleware.order == []
    assert plan_for(load_run(_folder(tmp_path / "plain", middleware=None))).middleware is None


def test_the_plan_puts_each_script_on_its_party_and_says_which_refused():
    seen: list[tuple[str, dict]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), orjson.loads(request.content)))
        if request.url.port == 8004:
            return httpx.Response(422, json={"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "business-rule", "diagnostics": "not configured: r9"}]})
        return httpx.Response(200, json={})

    plan = ReplayPlan("3", [], [], middleware=Script([{"link": "middleware->spine", "rule_id": "r9"}], []))
    urls = StackUrls.local(legacy=True)

    async def configure() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await plan.configure(client, urls)

    with pytest.raises(StackError, match="the middleware refused the recorded decisions: .*r9"):
        asyncio.run(configure())
    assert [url for url, _ in seen] == [f"{urls.broker}/faults/replay", f"{urls.middleware}/faults/replay"]
    assert seen[1][1]["decisions"][0]["rule_id"] == "r9"
    with pytest.raises(StackError, match="no middleware"):
        plan.parties(urls.without_legacy())


def test_restarts_differ_in_what_they_lost_and_on_a_virtual_clock_in_when():
    moved = [{**RESTARTS[0], "at": "2027-01-04T09:06:00+00:00"}]
    assert restart_differences(RESTARTS, moved) == []
    assert restart_differences(RESTARTS, moved, timed=True) == [
        "middleware restart #1: at was '2027-01-04T09:00:06+00:00', now '2027-01-04T09:06:00+00:00'"]
    kept = [{**RESTARTS[0], "lost": []}]
    assert [d.split(":")[0] for d in restart_differences(RESTARTS, kept)] == ["middleware restart #1"]
    assert restart_differences(RESTARTS, []) == ["middleware restarts: 1 recorded, 0 in the replay"]


def test_a_virtual_clocks_journal_times_are_compared_and_each_journal_named():
    # elapsed_s is the engine's reckoning (0 for an engine without rules), never compared: `at` says when.
    later = [{**MIDDLEWARE[0], "at": "2027-01-04T09:00:02", "latency_ms": 6.0, "elapsed_s": 0.0}, *MIDDLEWARE[1:]]
    assert journal_differences(MIDDLEWARE, later) == []
    found = journal_differences(MIDDLEWARE, later, name="middleware journal", timed=True)
    assert found == [
        "middleware journal: middleware->spine patient-read caused by b1 attempt 1: at was "
        "'2027-01-04T09:00:01', now '2027-01-04T09:00:02'",
        "middleware journal: middleware->spine patient-read caused by b1 attempt 1: latency_ms was 5.0, now 6.0"]


def test_compare_runs_covers_the_middleware_journal_and_restarts(tmp_path):
    record = load_run(_folder(tmp_path / "then"))
    compared, differences = compare_runs(record, load_run(_folder(tmp_path / "same")), timed=True)
    assert compared == ["journal.jsonl", MIDDLEWARE_JOURNAL, f"{MIDDLEWARE_QUEUE} (restarts)", "reconciliation.json"]
    assert differences == []
    changed = [{**MIDDLEWARE[0], "decision": "pass", "rule_id": None, "outcome": "delivered"}, *MIDDLEWARE[1:]]
    _, differences = compare_runs(record, load_run(_folder(tmp_path / "now", changed, restarts=[])), timed=True)
    assert "middleware journal: middleware->spine patient-read caused by b1 attempt 1: decision was 'outage', " \
           "now 'pass'" in differences
    assert "middleware restarts: 1 recorded, 0 in the replay" in differences
    compared, _ = compare_runs(load_run(_folder(tmp_path / "plain", middleware=None)),
                               load_run(_folder(tmp_path / "plain2", middleware=None)), timed=False)
    assert compared == ["journal.jsonl", "reconciliation.json"]


def test_free_mllp_ports_are_consecutive_and_free():
    first = free_mllp_port(count=4)
    with ExitStack() as stack:
        for port in range(first, first + 4):
            stack.enter_context(socket.socket()).bind(("127.0.0.1", port))


def test_a_trace_names_the_restart_that_lost_the_booking_among_its_hops(tmp_path):
    tracer = Tracer.of_record(load_run(_folder(tmp_path / "run")))
    doc = tracer.trace(LOST)
    assert [(h["link"], h["decision"]) for h in doc["hops"]] == [
        ("broker->pas:RT1", "pass"), ("middleware->spine", "outage"), ("middleware->spine", "outage")]
    # The middleware's r1 is its own rule, not the broker's r1.
    assert doc["hops"][1]["rule"] == "outage on middleware->spine * (period_s=1800, duty=0.7)"
    assert doc["lost_in_restarts"] == [{"restart": 1, "at": RESTARTS[0]["at"], "reason": RESTARTS[0]["reason"],
                                        "queue": "memory", "event": "booking-request", "bundle_id": "b1",
                                        "control_id": "c1"}]
    assert tracer.trace("000000000008")["lost_in_restarts"] == []
    out = io.StringIO()
    render_trace(Console(file=out, width=200), doc)
    shown = out.getvalue()
    rows = [line for line in shown.split("each party's final view")[0].splitlines() if "│" in line]
    # The restart comes after the failed look-ups, the last of them at the same instant.
    assert [i for i, r in enumerate(rows) if "restart #1" in r] == [len(rows) - 1]
    assert "middleware:r1: outage on middleware->spine" in shown
    assert "lost in the middleware's restart #1 at 2027-01-04T09:00:06+00:00: 60 spine look-ups in a row failed; " \
           "its memory queue held the booking-request (control id c1)" in shown


def test_a_rules_text_says_when_it_holds():
    from harness.replay.trace import _rule_text

    assert _rule_text({"action": "outage", "link": "broker->spine", "window": {"from": 700.0, "to": 1250.0}}) == \
        "outage on broker->spine * (window 700-1250s)"
    assert _rule_text({"action": "drop", "link": "broker->pas:*", "event": "booking-request",
                       "probability": 0.5}) == "drop on broker->pas:* booking-request (probability=0.5)"
    assert _rule_text({"action": "drop", "link": "broker->gp:*"}) == "drop on broker->gp:* * (always)"
