"""`testbed run` with a virtual-clock scenario over real sockets: the embedded stack gets the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_sockets import _free_ports, _port_args

pytestmark = pytest.mark.sockets


def test_a_scenario_on_the_virtual_clock_runs_its_simulated_hour_in_seconds(tmp_path: Path):
    scenario = tmp_path / "virtual.yaml"
    scenario.write_text(
        "seed: 3\n"
        "clock: {mode: virtual, epoch: '2006-06-05T09:00:00Z'}\n"
        "workload: {bookings: 12, concurrency: 2, arrival: {process: uniform, per_hour: 12}}\n"
        "faults:\n"
        "  - {link: 'broker->pas:*', event: booking-request, action: delay, ms: 600000}\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "run", "--scenario", str(scenario), "--json",
         "--runs-dir", str(tmp_path / "runs"), *_port_args(_free_ports(4))],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.JSONDecoder().raw_decode(done.stdout)[0]
    assert summary["bookings"]["accepted"] == 12
    # Arrivals every 300 s and a 600 s delay on each: eleven gaps and the last delay.
    assert summary["clock"]["mode"] == "virtual"
    assert summary["clock"]["simulated_s"] == 11 * 300 + 600
    assert summary["clock"]["real_s"] < 120
    journal = Path(summary["run"]["folder"], "journal.jsonl").read_text().splitlines()
    delayed = [json.loads(line) for line in journal if '"delay"' in line]
    assert len(delayed) == 12 and {e["latency_ms"] for e in delayed} == {600000}
    assert json.loads(journal[-1])["at"].startswith("2006-06-05T10:")
