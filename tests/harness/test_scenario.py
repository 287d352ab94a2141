"""Scenario files: loading, overriding, and one-line errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario.model import ScenarioError, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_scenarios_load():
    names = {load_scenario(p).name for p in (REPO / "scenarios").glob("*.yaml")}
    assert {"choose-and-book-2006", "choose-and-book-2006-reliable"} <= names


def test_json_and_yaml_alike(tmp_path):
    (tmp_path / "a.json").write_text('{"seed": 3, "delivery": "reliable", "workload": {"bookings": 5},'
                                     ' "faults": [{"link": "broker->spine", "action": "delay", "ms": 10}]}')
    s = load_scenario(tmp_path / "a.json")
    assert (s.seed, s.delivery, s.workload.bookings) == (3, "reliable", 5)
    assert s.faults[0].params == {"ms": 10}
    assert s.fault_plan() == {"seed": 3, "rules": [{"link": "broker->spine", "action": "delay", "params": {"ms": 10}}]}


@pytest.mark.parametrize("data,field", [
    ({"delivery": "pigeon"}, "delivery"),
    ({"workload": {"bookings": 0}}, "workload.bookings"),
    ({"faults": [{"link": "x", "action": "drop", "probability": 1.5}]}, "faults[0].probability"),
    ({"faults": [{"link": "x", "action": "explode"}]}, "faults[0]"),
    ({"faults": [{"link": "x", "action": "delay", "ms": -5}]}, "faults[0]"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_scenarios_name_the_field(data, field):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "s.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("s.yaml: ") and field in message


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("seed: [1,\n")
    with pytest.raises(ScenarioError, match="line"):
        load_scenario(tmp_path / "bad.yaml")
