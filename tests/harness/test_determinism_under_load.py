"""Runs on the virtual clock are the same from run to run while `stress-ng` loads both cores.

The harness moves virtual time only when no party (nor the harness) has work under way and no call
between them is on the wire (docs/clock.md). Work that none of them counted (a request whose
fanned-out parts had not started yet, or had ended but the request had not resumed; an answer on
its way back to its caller; the harness between a booking's referral and its `$book`) let time move
under it now and then, which a loaded machine made likely: a message journaled at another
simulated time, a booking started after the next wakeup instead of when a slot freed, UBRNs shifted
(issue 13). These checks repeat the scenarios that showed it, under load; without the load they
passed nearly every time even then.

The load is four `stress-ng` CPU workers a core: with one a core (`--cpu 2` here) and nothing else
running, the old code passed 7 runs in 7, while with four a core it diverged in 5 in-process runs
of 6; the fixed code comes out the same in every run under either.

`stress-ng` is the Debian package of that name (.ci/run installs it); without it the checks are
skipped, unless TESTBED_REQUIRE_STRESS=1 (as CI sets) makes that a failure. TESTBED_LOAD_REPEATS sets
how many runs each check compares (default 4).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from harness.replay.run import free_local_urls, replay_run
from harness.run.record import read_jsonl
from harness.run.runner import RunOptions, run
from harness.scenario.model import load_scenario
from tests.harness.test_virtual_clock import JOURNALS_THE_SAME, run_scenario

pytestmark = pytest.mark.slow

REPEATS = max(2, int(os.environ.get("TESTBED_LOAD_REPEATS", "4")))

# tests/harness/test_virtual_clock.py's run that journals the same twice: reliable delivery, delays
# on every trust, an outage on the practices' link. In-process: the four parties in one event loop.
RELIABLE = JOURNALS_THE_SAME
# tests/replay's run whose delays fill the workload's concurrency: over sockets, a process a party.
FILLED = Path(__file__).resolve().parent.parent / "replay" / "virtual.yaml"


@pytest.fixture(scope="module")
def loaded_cores():
    """Every core kept busy (four `stress-ng` CPU workers a core) while the module's tests run."""
    exe = shutil.which("stress-ng")
    if exe is None:
        reason = "stress-ng is not installed (apt-get install stress-ng): no load to run the determinism checks under"
        if os.environ.get("TESTBED_REQUIRE_STRESS") == "1":
            pytest.fail(f"TESTBED_REQUIRE_STRESS=1 but {reason}")
        pytest.skip(reason)
    workers = 4 * len(os.sched_getaffinity(0))
    proc = subprocess.Popen([exe, "--cpu", str(workers), "--timeout", "900s", "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    assert proc.poll() is None, "stress-ng exited at once"
    yield proc
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _still_loading(proc: subprocess.Popen) -> None:
    assert proc.poll() is None, "stress-ng stopped before the runs ended: they were not all under load"


@pytest.mark.timeout(420)
async def test_a_reliable_in_process_run_journals_the_same_every_time_under_load(tmp_path, loaded_cores):
    first_summary, first, _ = await run_scenario(tmp_path, RELIABLE, "run0")
    assert len(first) > 60 and any(e["decision"] == "outage" for e in first)
    for n in range(1, REPEATS):
        summary, journal, _ = await run_scenario(tmp_path, RELIABLE, f"run{n}")
        # Every field, simulated times (`at`, `elapsed_s`, `latency_ms`) included.
        assert journal == first, _first_difference(first, journal)
        assert summary["clock"]["simulated_s"] == first_summary["clock"]["simulated_s"]
    _still_loading(loaded_cores)


@pytest.mark.sockets
@pytest.mark.timeout(420)
def test_a_run_whose_delays_fill_the_concurrency_repeats_and_replays_identically_under_load(tmp_path,
                                                                                          loaded_cores):
    scenario = load_scenario(FILLED)
    folders = []
    for n in range(REPEATS - 1):
        summary, folder = run(RunOptions(scenario=scenario, urls=free_local_urls(), runs_dir=tmp_path / f"run{n}"))
        folders.append(folder)
    first = read_jsonl(folders[0] / "journal.jsonl")
    assert any(e["outcome"] != "delivered" for e in first if e["link"] == "broker->spine")
    for folder in folders[1:]:
        journal = read_jsonl(folder / "journal.jsonl")
        assert journal == first, _first_difference(first, journal)
        assert _bookings(folder) == _bookings(folders[0])
    # And a replay of the first on a fresh stack: same decisions, same UBRNs, same outcomes.
    outcome = replay_run(folders[0])
    assert outcome.differences == []
    _still_loading(loaded_cores)


def _bookings(folder: Path) -> list[tuple]:
    """What each booking came to (not its real-time latency, nor the ids made up per run)."""
    rows = [orjson.loads(line) for line in (folder / "bookings.jsonl").read_bytes().splitlines()]
    return [(r["index"], r["outcome"], r["status"], r["ubrn"], r["attempts"]) for r in rows]


def _first_difference(a: list[dict], b: list[dict]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"journals differ first at entry {i}: {x} != {y}"
    return f"journals differ in length: {len(a)} != {len(b)}"
