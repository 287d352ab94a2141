"""A run folder is judged from what the run recorded: `testbed check --run` and `testbed reconcile --run`
give the run's answer with no stack up, with another stack on the same ports (holding bookings of its
own under the same UBRNs), and with the run's own stack up; they never read a live stack for it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_sockets import _free_ports, _port_args, _testbed, running_stack

pytestmark = pytest.mark.sockets

LOSSY = """
name: folder-2006
seed: 7
workload: {bookings: 40, concurrency: 8}
faults:
  - {link: "broker->pas:*", event: booking-request, action: drop, probability: 0.57}
"""
CLEAN = """
name: folder-clean
seed: 7
workload: {bookings: 40, concurrency: 8}
"""


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(_testbed(*args), capture_output=True, text=True, timeout=timeout)


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("testbed: error: "), done.stderr
    return lines[0]


def _run(tmp_path: Path, name: str, text: str, stack: list[str]) -> dict:
    scenario = tmp_path / f"{name}.yaml"
    scenario.write_text(text)
    done = _cli("run", "--scenario", str(scenario), "--json", "--runs-dir", str(tmp_path / "runs"), *stack)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _verdict(folder: str, stack: list[str]) -> dict:
    done = _cli("check", "--run", folder, "--max-error-rate", "1", "--json", *stack)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["end_to_end"]


def _reconciled(folder: str, stack: list[str]) -> dict:
    done = _cli("reconcile", "--run", folder, "--json", *stack)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    return {k: doc[k] for k in ("checked", "attempted", "disagreeing", "error_rate", "counts", "score")}


def _as_run_saw_it(summary: dict) -> dict:
    return {k: v for k, v in summary["reconciliation"].items() if k != "score"}


def test_a_run_folder_gives_the_runs_answer_whatever_stack_is_up(tmp_path: Path):
    ports = _free_ports(4)
    stack = ["--host", "127.0.0.1", *_port_args(ports)]

    # A 2006 run on a stack of its own, gone when the run ends.
    lossy = _run(tmp_path, "lossy", LOSSY, stack)
    assert lossy["run"]["stack"] == "embedded"
    folder = lossy["run"]["folder"]
    saw = _as_run_saw_it(lossy)
    assert saw["disagreeing"] > 0 and saw["counts"]["missing_at_pas"] == saw["disagreeing"]

    # Nothing listening: the folder alone answers (this was exit 3).
    assert _verdict(folder, stack) == saw
    assert _reconciled(folder, stack) == lossy["reconciliation"]
    done = _cli("check", "--run", folder, "--max-error-rate", "0", *stack)
    assert done.returncode == 1 and f"({saw['disagreeing']} of 40 bookings disagree)" in _one_error_line(done)

    # Another stack on the same ports, with a clean run of its own: the same UBRNs, other bookings.
    with running_stack(tmp_path / "stack", ports):
        clean = _run(tmp_path, "clean", CLEAN, stack)
        assert clean["run"]["stack"] == "external" and clean["reconciliation"]["disagreeing"] == 0
        assert {r["ubrn"] for r in map(json.loads, (Path(clean["run"]["folder"]) / "bookings.jsonl").open())} & {
            r["ubrn"] for r in map(json.loads, (Path(folder) / "bookings.jsonl").open())}, \
            "the two stacks should share UBRNs, or this test shows nothing"

        # The lossy run is still judged as it was, not as the stack now up would have it.
        assert _verdict(folder, stack) == saw
        assert _reconciled(folder, stack) == lossy["reconciliation"]
        # The clean run, with its own stack up: its own answer too.
        assert _verdict(clean["run"]["folder"], stack) == _as_run_saw_it(clean)

        # Repairing a run needs its own stack: refused on another, done on its own.
        done = _cli("reconcile", "--repair", "--run", folder, *stack)
        assert done.returncode == 1 and "is not the stack run" in _one_error_line(done)
        done = _cli("reconcile", "--repair", "--json", "--run", clean["run"]["folder"], *stack)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["repair"]["left"] == []

    # What is not a run folder, or not a complete one: one line, exit 2.
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    (partial / "views.jsonl").unlink()
    for args, says in ((["check", "--run", str(partial), "--max-error-rate", "0"], "holds no capture"),
                       (["reconcile", "--run", str(partial)], "holds no capture"),
                       (["check", "--run", str(Path(folder) / "summary.json"), "--max-error-rate", "0"],
                        "not a run folder"),
                       (["check", "--report", folder, "--max-error-rate", "0"], "is a directory"),
                       (["reconcile", "--journal", folder], "is a directory"),
                       (["run", "--runs-dir", str(Path(folder) / "summary.json")], "not a directory")):
        done = _cli(*args, *stack)
        assert done.returncode == 2 and says in _one_error_line(done), (args, done.stderr)
