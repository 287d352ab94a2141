"""`testbed reconcile` and `testbed check` as real commands against a real stack over sockets."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.test_sockets import _free_ports, _port_args, _testbed, running_stack

pytestmark = pytest.mark.sockets

SCENARIO_2006 = """
name: reconcile-2006
seed: 7
workload: {{bookings: {n}, concurrency: 8}}
faults:
  - {{link: "broker->pas:*", event: booking-request, action: drop, probability: 0.57}}
expect:
  error_rate: {{min: 0.3, max: 0.85}}
  discrepancies: {{missing_at_pas: {{min: 1}}, missing_at_spine: {{max: 0}}, total: {{max: {n}}}}}
  links: {{"broker->pas:*#booking-request": {{min: 0.3, max: 0.9}}, "broker->spine": {{max: 0}}}}
  score: {{precision: {{min: 1.0}}, recall: {{min: 1.0}}}}
"""

SCENARIO_MISSED = """
name: clean-but-expecting-losses
seed: 3
workload: {bookings: 10}
expect:
  error_rate: {min: 0.5}
  discrepancies: {missing_at_pas: {min: 1}}
"""


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(_testbed(*args), capture_output=True, text=True, timeout=timeout)


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("testbed: error: "), done.stderr
    return lines[0]


def test_reconcile_repair_and_check_against_a_stack_over_sockets(tmp_path: Path):
    ports = _free_ports(4)
    stack = _port_args(ports)
    with running_stack(tmp_path / "stack", ports):
        # The run ends by reconciling; its scenario's expectations are met.
        n = 60
        scenario = tmp_path / "s2006.yaml"
        scenario.write_text(SCENARIO_2006.format(n=n))
        done = _cli("run", "--scenario", str(scenario), "--json", "--runs-dir", str(tmp_path / "runs"), *stack)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        rec = summary["reconciliation"]
        lost = rec["counts"]["missing_at_pas"]
        assert lost > 0 and rec["disagreeing"] == lost and rec["attempted"] == n
        assert rec["error_rate"] == round(lost / n, 6) == summary["error_rates"]["end_to_end"]
        assert (rec["score"]["precision"], rec["score"]["recall"]) == (1.0, 1.0)
        assert summary["expectations"] == {"met": True, "missed": []}
        assert summary["error_rates"]["links"]["broker->spine"]["rate"] == 0
        run1 = Path(summary["run"]["folder"])
        saved = json.loads((run1 / "reconciliation.json").read_text())
        assert saved["counts"] == rec["counts"] and len(saved["discrepancies"]) == lost

        # Reconcile on its own: JSON, scored against the run's journal.
        done = _cli("reconcile", "--json", "--run", str(run1), *stack)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["counts"]["missing_at_pas"] == lost and doc["checked"] == n
        assert {d["kind"] for d in doc["discrepancies"]} == {"missing_at_pas"}
        assert (doc["score"]["precision"], doc["score"]["recall"]) == (1.0, 1.0)
        # From the folder alone (what the run captured), as the run itself read the parties (export).
        assert doc["sources"]["broker"]["read"][0].endswith("views.jsonl (captured at the end of the run)")
        assert saved["sources"]["broker"]["read"][0].endswith("/Appointment/$export (export)")

        # The table, and JUnit: one case per booking, a failure per lost one.
        junit = tmp_path / "junit" / "reconcile.xml"
        done = _cli("reconcile", "--junit", str(junit), *stack)
        assert done.returncode == 0, done.stderr
        assert f"{lost} of {n} bookings disagree" in done.stdout and "missing_at_pas" in done.stdout
        suite = ET.parse(junit).getroot().find("testsuite")
        assert len(suite.findall("testcase")) == n and suite.get("failures") == str(lost)

        # The gate fails, one line per bound missed; live or from the saved report.
        done = _cli("check", "--max-error-rate", "0", *stack)
        assert done.returncode == 1
        assert "end-to-end error rate" in _one_error_line(done) and f"({lost} of {n} bookings disagree)" in done.stderr
        done = _cli("check", "--max-error-rate", "0", "--report", str(run1 / "reconciliation.json"))
        assert done.returncode == 1 and "exceeds the maximum 0" in _one_error_line(done)
        done = _cli("check", "--link", "broker->pas:*#booking-request", "--max", "0.1", "--link", "broker->spine",
                    "--max", "0", "--run", str(run1), *stack)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines and all(line.startswith("testbed: error: link broker->pas:RT") for line in lines)

        # Repair (the drops still in force), then the gate passes at 0. Practices book the earliest free
        # slot, and a slot whose booking the trust never got looks free there: a lost booking whose slot
        # another took since is moved to the next free slot (tests/reconcile/test_rebook.py makes sure
        # of one); the link rates then count the repairs' drops too, so only the spine's is bounded.
        taken = {d["ubrn"] for d in saved["discrepancies"] if "its slot is now booked at the trust" in d["detail"]}
        done = _cli("reconcile", "--repair", "--json", *stack)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["repair"]["before"]["missing_at_pas"] == lost
        assert doc["repair"]["left"] == [] and doc["discrepancies"] == [] and doc["disagreeing"] == 0
        assert {r["ubrn"] for r in doc["repair"]["rebooked"]} >= taken
        done = _cli("check", "--max-error-rate", "0", "--link", "broker->spine", "--max", "0", "--json", *stack)
        assert done.returncode == 0, done.stderr
        verdict = json.loads(done.stdout)
        assert verdict["passed"] and verdict["end_to_end"]["disagreeing"] == 0

        # A scenario whose expectations are missed: the summary still comes, then exit 1, one line each.
        scenario = tmp_path / "missed.yaml"
        scenario.write_text(SCENARIO_MISSED)
        done = _cli("run", "--scenario", str(scenario), "--json", "--runs-dir", str(tmp_path / "runs"), *stack)
        assert done.returncode == 1
        assert json.loads(done.stdout)["expectations"]["met"] is False
        missed = [line for line in done.stderr.splitlines() if line.startswith("testbed: error:")]
        assert [line.split(":")[3].strip() for line in missed] == ["expect.error_rate", "expect.discrepancies.missing_at_pas"]


def test_usage_errors_and_an_unreachable_party():
    ports = _free_ports(4)
    done = _cli("check", *_port_args(ports))
    assert done.returncode == 2 and "--max-error-rate" in _one_error_line(done)
    done = _cli("check", "--link", "broker->pas:*", *_port_args(ports))
    assert done.returncode == 2 and "pairs" in _one_error_line(done)
    done = _cli("check", "--max-error-rate", "1.5")
    assert done.returncode == 2
    _one_error_line(done)
    done = _cli("reconcile", "--journal", "/nonexistent/journal.jsonl", *_port_args(ports))
    assert done.returncode == 2 and "cannot read journal" in _one_error_line(done)
    done = _cli("reconcile", "--broker-url", "ftp://x", *_port_args(ports))
    assert done.returncode == 2 and "--broker-url" in _one_error_line(done)
    for command in (["reconcile", "--settle", "0"], ["check", "--max-error-rate", "0"]):
        done = _cli(*command, *_port_args(ports))
        assert done.returncode == 3
        assert "cannot be reached" in _one_error_line(done)
    # An explicit URL wins over the ports: here a real system that is not there.
    done = _cli("reconcile", "--spine-url", f"http://127.0.0.1:{ports[1]}/fhir", "--settle", "0", *_port_args(ports))
    assert done.returncode == 3
