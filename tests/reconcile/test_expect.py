"""A scenario's `expect` block: its shape, and one-line errors that name the field at fault."""

from __future__ import annotations

import pytest

from harness.scenario.model import ScenarioError, parse_scenario


def test_a_full_expect_block_parses():
    spec = parse_scenario({"expect": {"error_rate": {"min": 0.52, "max": 0.62},
                                      "discrepancies": {"missing_at_pas": {"min": 1}, "total": {"max": 700}},
                                      "links": {"broker->pas:*": {"max": 0.7}, "broker->spine#booking-request": {"max": 0}},
                                      "score": {"precision": {"min": 1.0}}}})
    assert spec.expect.error_rate.max == 0.62 and spec.expect.discrepancies.missing_at_pas.min == 1
    assert spec.expect.links["broker->pas:*"].max == 0.7 and spec.expect.score.recall is None
    # It survives the dump and re-parse that `testbed run` applies to its overrides.
    again = parse_scenario(spec.model_dump(by_alias=True, exclude_none=True))
    assert again.expect == spec.expect


@pytest.mark.parametrize("data,field", [
    ({"expect": {"error_rate": {"min": 0.7, "max": 0.6}}}, "expect.error_rate"),
    ({"expect": {"error_rate": {"max": 1.5}}}, "expect.error_rate.max"),
    ({"expect": {"error_rate": {}}}, "expect.error_rate"),
    ({"expect": {"discrepancies": {"missing_at_paz": {"min": 1}}}}, "expect.discrepancies.missing_at_paz"),
    ({"expect": {"discrepancies": {"missing_at_pas": {"min": -1}}}}, "expect.discrepancies.missing_at_pas.min"),
    ({"expect": {"links": {"broker->pas:*": {"max": "high"}}}}, "expect.links.broker->pas:*.max"),
    ({"expect": {"links": {"#booking-request": {"max": 0.1}}}}, "expect.links"),
    ({"expect": {"score": {"recall": {"at_least": 1}}}}, "expect.score.recall.at_least"),
    ({"expect": {"latency": 3}}, "expect.latency"),
])
def test_invalid_expectations_name_the_field(data, field):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "s.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"s.yaml: {field}:"), message
