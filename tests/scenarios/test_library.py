"""The scenario library: every file loads, quotes the study faithfully, has its cure, and is listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scenario.model import ScenarioError
from harness.scenario.library import library, library_dir, resolve

REPO = Path(__file__).resolve().parents[2]
FAILURES = ["choose-and-book-2006", "spine-vanishes", "lost-acks-duplicates", "tactical-pas", "merged-trust",
            "dropped-booking-messages"]
NAMES = FAILURES + [f"{n}-reliable" for n in FAILURES]


def _testbed(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=env or None)


def _header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _squash(text: str) -> str:
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).lower()  # a quotation may start mid-sentence, in lower case


def test_the_library_is_found_next_to_the_installed_package():
    assert library_dir() == REPO / "scenarios"
    assert sorted(e.name for e in library()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_states_what_it_reproduces_and_encodes_it(name):
    entry = next(e for e in library() if e.name == name)
    assert entry.path.stem == name
    assert entry.summary and "\n" not in entry.scenario.description
    header = _header(entry.path)
    assert "Hendy" in header and "BMJ 2007" in header and "Expected:" in header
    assert entry.scenario.expect is not None
    assert entry.scenario.delivery == "reliable" or name in ("choose-and-book-2006", "spine-vanishes",
                                                             "tactical-pas", "merged-trust", "dropped-booking-messages")


@pytest.mark.parametrize("name", NAMES)
def test_every_quotation_is_in_the_study_word_for_word(name, study_file):
    study = _squash(study_file.read_text())
    quotes = re.findall(r'"([^"]+)"', _header(REPO / "scenarios" / f"{name}.yaml"))
    assert quotes
    for quote in quotes:
        # An elision (". . .") in a quotation stands for words left out: each piece must be there.
        for piece in quote.split(". . ."):
            piece = piece.strip(" .")
            if piece:
                assert _squash(piece) in study, f"{name}: not in the study: {piece!r}"


@pytest.mark.parametrize("failure", FAILURES)
def test_each_failure_has_its_cure_under_reliable_delivery(failure):
    by_name = {e.name: e.scenario for e in library()}
    sick, cured = by_name[failure], by_name[f"{failure}-reliable"]
    assert cured.delivery == "reliable" and cured.receivers.dedupe
    assert [r.model_dump() for r in cured.faults] == [r.model_dump() for r in sick.faults]
    assert cured.receivers.sites == sick.receivers.sites and cured.population == sick.population
    assert cured.expect.error_rate.max == 0 and cured.expect.discrepancies.total.max == 0


def test_scenarios_lists_one_line_each():
    out = _testbed("scenarios")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [n for f in sorted(FAILURES) for n in (f, f"{f}-reliable")]
    for line in lines:
        name, delivery, description = line.split(None, 2)
        assert name in NAMES and delivery in ("fire-and-forget", "reliable") and description


def test_a_library_name_resolves_and_a_path_stays_a_path(tmp_path):
    assert resolve("merged-trust") == REPO / "scenarios" / "merged-trust.yaml"
    assert resolve(str(tmp_path / "mine.yaml")) == tmp_path / "mine.yaml"
    with pytest.raises(ScenarioError, match="testbed scenarios"):
        resolve("no-such-scenario")


def test_run_with_an_unknown_name_is_one_line_and_exit_2():
    out = _testbed("run", "--scenario", "no-such-scenario", "--broker-port", "1")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("testbed: error: no scenario file or library scenario named 'no-such-scenario'")


def test_a_broken_library_file_is_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\npopulation: {trusts: [RT1, RT9]}\n")
    out = _testbed("scenarios", **{**os.environ, "TESTBED_SCENARIOS": str(tmp_path)})
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "population.trusts[1]" in out.stderr
