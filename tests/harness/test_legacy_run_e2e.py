"""`testbed run` of a scenario with a legacy trust, through the real processes: the embedded stack
starts the middleware and the legacy PAS beside the four parties, bookings for RT4 go broker ->
middleware -> HL7 v2 over MLLP -> legacy PAS, and with no fault every party agrees, the legacy PAS's
extract holding each of RT4's bookings. The folder is judged again offline (`testbed check --run`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_sockets import _free_ports, _testbed

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

SCENARIO = """
name: legacy-small
seed: 5
population: {practices: 4, patients_per_practice: 100, trusts: [RT3, RT4]}
workload: {bookings: 20, concurrency: 4}
legacy:
  trusts: [RT4]
  middleware: {queue: persistent, spine_lookup: true}
expect:
  error_rate: {max: 0}
  discrepancies: {total: {max: 0}}
  score: {precision: {min: 1.0}, recall: {min: 1.0}}
"""


def _run(tmp_path: Path, text: str) -> tuple[dict, list[int]]:
    """`testbed run` of the scenario `text` on free ports (an embedded stack of six); its summary."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text)
    ports = _free_ports(7)
    names = ("broker", "spine", "pas", "gp", "middleware", "legacy-pas", "mllp")
    args = [a for name, port in zip(names, ports) for a in (f"--{name}-port", str(port))]
    done = subprocess.run(_testbed("run", "--scenario", str(scenario), "--json", "--runs-dir", str(tmp_path / "runs"),
                                   *args), capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), ports


@pytest.mark.timeout(600)
def test_a_run_with_a_legacy_trust_books_through_the_middleware_and_agrees_everywhere(tmp_path: Path):
    summary, ports = _run(tmp_path, SCENARIO)
    folder = Path(summary["run"]["folder"])
    assert summary["run"]["urls"]["middleware"] == f"http://127.0.0.1:{ports[4]}"
    assert summary["reconciliation"]["disagreeing"] == 0 and summary["reconciliation"]["error_rate"] == 0.0
    assert summary["bookings"]["errors"] == 0

    # The bookings for RT4 went through the middleware to the legacy PAS, which holds each of them.
    at_rt4 = {b["ubrn"] for b in map(json.loads, (folder / "bookings.jsonl").read_text().splitlines())
              if b["outcome"] == "accepted" and b["service"].startswith("rt4-")}
    assert at_rt4, "no booking for RT4 was accepted"
    extract = json.loads((folder / "legacy-extract.json").read_text())
    booked = {row["ubrn"] for row in extract if row["status"] == "booked" and row["trust_ods"] == "RT4"}
    assert booked == at_rt4
    middleware = [json.loads(line) for line in (folder / "middleware-journal.jsonl").read_text().splitlines()]
    delivered = {e["ubrn"] for e in middleware
                 if e["link"] == "middleware->pas:RT4" and e["event"] == "booking-request" and e["delivered"]}
    assert delivered == booked
    assert "middleware->pas:RT4" in summary["error_rates"]["links"]
    # Each party ran as its own process, with its own log.
    assert {"middleware.log", "legacy_pas.log"} <= {p.name for p in (folder / "logs").iterdir()}

    # Judged again from the folder alone: the legacy extract is in its capture.
    check = subprocess.run(_testbed("check", "--run", str(folder), "--max-error-rate", "0"),
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert "0 of 20 bookings disagree" in check.stdout


CRASH = """
name: legacy-crash
seed: 5
population: {practices: 4, patients_per_practice: 100, trusts: [RT4]}
workload: {bookings: 30, concurrency: 4, arrival: {process: poisson, per_hour: 100}}
clock: {mode: virtual}
legacy:
  trusts: [RT4]
  middleware: {queue: QUEUE, spine_lookup: true, crash_after_spine_failures: 1, restart_s: 30}
faults:
  - {link: "middleware->spine", action: outage, window: {from: 300, to: 700}}
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("queue", ["memory", "persistent"])
def test_the_middleware_falling_over_is_scored_from_both_journals(tmp_path: Path, queue: str):
    """The spine vanishes for the middleware, which restarts: in memory mode what it had queued is lost
    (found at the trust by the reconciler, and the loss in the middleware's journal: precision and
    recall 1); in persistent mode the drain waits for its resends and nothing is lost."""
    summary, _ = _run(tmp_path, CRASH.replace("QUEUE", queue))
    rec = summary["reconciliation"]
    # Said in full when an assertion fails: the drain, the middleware's links and the reconciliation.
    seen = json.dumps({"drain": summary["outbox_after_drain"], "clock": summary["clock"], "reconciliation": rec,
                       "links": {k: v for k, v in summary["error_rates"]["links"].items() if "middleware" in k}})
    assert summary["outbox_after_drain"]["middleware"]["restarts"] >= 1, seen
    assert summary["error_rates"]["links"]["middleware->spine"]["failed"] >= 1, seen
    if queue == "memory":
        assert rec["counts"]["missing_at_pas"] >= 1, seen
        assert rec["disagreeing"] == rec["counts"]["missing_at_pas"], seen
    else:
        assert rec["disagreeing"] == 0, seen
    assert (rec["score"]["precision"], rec["score"]["recall"]) == (1.0, 1.0), seen
    assert rec["score"]["injected"] == rec["counts"]["missing_at_pas"], seen
