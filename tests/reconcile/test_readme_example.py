"""Issue 15 item 3: the README's worked example of a lost booking is true.

The README's "Replaying a lost booking" shows a command and the UBRN of a booking it loses. This runs
that very scenario through the run path the tests use for scenario runs (its own embedded stack) and
asserts that UBRN is lost in it, and that `testbed trace` on the run shows why; so the README cannot
drift from what the command does.

Marked slow (a 200-booking run, about a minute): CI runs it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.replay.run import free_local_urls
from harness.run.runner import RunOptions, run
from harness.scenario.library import library

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> tuple[str, str]:
    """(the scenario the example runs, the UBRN it says is lost), read from the README itself."""
    text = README.read_text(encoding="utf-8")
    part = text.split("## Replaying a lost booking", 1)[1].split("\n## ", 1)[0]
    scenario = re.search(r"^testbed run --scenario (\S+)\s", part, re.M)
    ubrns = set(re.findall(r"^testbed (?:trace|replay \S+ --ubrn) (\d{12})\b", part, re.M))
    assert scenario and len(ubrns) == 1, "the README's example must run one scenario and name one UBRN"
    return scenario.group(1), ubrns.pop()


def test_the_readme_example_booking_is_lost_in_the_run_the_readme_shows(tmp_path):
    name, ubrn = readme_example()
    scenario = next(e.scenario for e in library() if e.name == name)
    summary, folder = run(RunOptions(scenario=scenario, urls=free_local_urls(), runs_dir=tmp_path / "runs"))
    assert summary["expectations"]["met"], summary["expectations"]["missed"]

    report = json.loads((folder / "reconciliation.json").read_text())
    lost = {d["ubrn"]: d for d in report["discrepancies"]}
    assert ubrn in lost, f"UBRN {ubrn} is delivered in this run; lost are e.g. {sorted(lost)[:5]}"
    assert lost[ubrn]["kind"] == "missing_at_pas"

    # `testbed trace UBRN RUN_FOLDER` (the README's next command) shows the drop and the trust's empty view.
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "trace", ubrn, str(folder), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    trace = json.loads(done.stdout)
    to_pas = [h for h in trace["hops"] if h["link"].startswith("broker->pas:") and h["event"] == "booking-request"]
    assert [h["decision"] for h in to_pas] == ["drop"]
    assert trace["views"]["pas"] in (None, []) and trace["views"]["broker"]["status"] == "booked"
