"""Injected versus emergent: a run's summary, its `--json`, its CLI table and its report keep the fault
plan's configured rates apart from what the run measured (harness/run/inputs.py)."""

from __future__ import annotations

import orjson
import pytest
from rich.console import Console

from harness.cli.inputs_view import print_inputs
from harness.report.data import build_report
from harness.run.error_rates import link_rates
from harness.run.folder import write_json
from harness.run.inputs import NO_FAILED_HOP, NO_RULE, inputs_and_outcomes, rules_of_run
from harness.run.runner import RunOptions, drive
from harness.scenario.model import parse_scenario
from party_common.http_client import RoutingTransport
from tests.report.synthetic_run import discrepancy, entry
from tests.stack_inprocess import inprocess_stack, mount

RULES = [{"link": "broker->pas:*", "event": "booking-request", "action": "drop", "every": {"k": 1, "n": 3}},
         {"link": "broker->spine", "action": "delay", "ms": 1}]


@pytest.fixture
async def small_run(tmp_path):
    """12 bookings, one trust message in three dropped by an exact plan, the spine's messages delayed."""
    async with inprocess_stack(tmp_path, population_size=50) as (urls, _client, apps):
        scenario = parse_scenario({"seed": 3, "workload": {"bookings": 12, "concurrency": 2}, "faults": RULES})
        folder = tmp_path / "run"
        folder.mkdir()
        summary = await drive(RunOptions(scenario=scenario, urls=urls, runs_dir=tmp_path), folder,
                              transport=mount(RoutingTransport(), apps))
        return summary, folder, scenario


@pytest.mark.timeout(180)
async def test_the_summary_shows_the_configured_plan_apart_from_what_was_measured(small_run):
    summary, folder, scenario = small_run
    doc = orjson.loads(orjson.dumps(summary))  # what --json prints
    given, found = doc["configured"], doc["measured"]
    assert (given["label"], found["label"]) == ("configured (input)", "measured (outcome)")

    drop, delay = given["rules"]
    assert (drop["id"], drop["plan"], drop["share"], drop["basis"]) == ("r1", "1 of every 3", pytest.approx(1 / 3), "exact")
    assert (delay["id"], delay["share"], delay["fails_delivery"]) == ("r2", 1.0, False)

    # Measured from the journal the run wrote, counted here independently of the module.
    journal = [orjson.loads(line) for line in (folder / "journal.jsonl").read_bytes().splitlines() if line.strip()]
    to_trusts = [e for e in journal if e["link"].startswith("broker->pas:") and e["event"] == "booking-request"]
    dropped = [e for e in to_trusts if e["rule_id"] == "r1"]
    assert len(to_trusts) == 12 and len(dropped) == 4 and all(e["decision"] == "drop" for e in dropped)
    m_drop, m_delay = found["rules"]
    assert (m_drop["matched"], m_drop["fired"], m_drop["failed"]) == (12, 4, 4)
    assert m_drop["failure_rate"] == pytest.approx(4 / 12) and m_drop["rate_is_input"] is True
    assert "input, not a finding" in m_drop["note"]
    spine = [e for e in journal if e["link"] == "broker->spine"]
    assert (m_delay["matched"], m_delay["fired"], m_delay["rate_is_input"]) == (len(spine), len(spine), False)

    # The outcome: the bookings lost are those the plan dropped, and the summary says the rate is its doing.
    rec = summary["reconciliation"]
    assert found["end_to_end"] == {"error_rate": rec["error_rate"], "disagreeing": rec["disagreeing"],
                                   "attempted": rec["attempted"]}
    assert found["lost_by_cause"] == {"rule r1 (drop)": 4} and rec["disagreeing"] == 4
    assert "input, not a finding" in found["end_to_end_note"]
    assert found["links"]["broker->spine"]["failed"] == 0

    # The table `testbed run` prints labels each side.
    out = Console(record=True, width=400)
    print_inputs(out, summary)
    text = out.export_text()
    assert "configured (input): plan" in text and "measured (outcome): failure rate" in text
    assert "1 of every 3" in text and "4/12" in text and "0.333" in text

    # The report, rebuilt from the folder alone, comes to the same two sections.
    write_json(folder / "scenario.json", scenario.model_dump(by_alias=True, exclude_none=True))
    write_json(folder / "summary.json", summary)
    report = build_report(folder)
    assert report["configured"] == given and report["measured"] == found


def test_failures_no_rule_made_are_not_read_as_the_rules_input():
    """A site the scenario sets to answer 503 loses bookings with no rule firing: the rule's rate is
    not called an input, and the lost bookings are put to the receiver, naming the configured site."""
    journal = [entry(1, 1.0, "broker->pas:RT1", ubrn="u1", delivered=False, decision="drop"),      # rule r1
               entry(2, 2.0, "broker->pas:RT1", ubrn="u2", delivered=False, outcome="error"),      # the PAS's 503
               entry(3, 3.0, "broker->pas:RT1", ubrn="u3"),
               entry(4, 4.0, "broker->pas:RT1", ubrn="u4")]
    journal[1]["status"] = 503
    lost = [discrepancy(u, "missing_at_pas", "not at the trust") for u in ("u1", "u2", "u3")]
    scenario = {"receivers": {"sites": {"RT102": {"unavailable": 0.5, "delay_ms": 40}}},
                "faults": [{"link": "broker->pas:*", "action": "drop", "probability": 0.25}]}
    doc = inputs_and_outcomes(rules_of_run({}, scenario), scenario, journal,
                              {"discrepancies": lost, "error_rate": 0.75, "disagreeing": 3, "attempted": 4},
                              link_rates(journal))
    site = doc["configured"]["receivers"]["sites"]["RT102"]
    assert (site["unavailable"], site["delay_ms"], site["link"]) == (0.5, 40, "broker->pas:RT1")
    rule = doc["measured"]["rules"][0]
    assert (rule["matched"], rule["fired"], rule["failed"], rule["failed_by_rule"]) == (4, 1, 2, 1)
    assert rule["rate_is_input"] is False and "1 of 2 failures here are not this rule's" == rule["note"]
    assert doc["measured"]["lost_by_cause"] == {"rule r1 (drop)": 1, NO_RULE: 1, NO_FAILED_HOP: 1}
    note = doc["measured"]["end_to_end_note"]
    assert "1 of 3 lost bookings to injected fault rules" in note and "RT102" in note and "emergent" in note


def test_a_folder_without_recorded_rules_takes_the_scenarios_numbered_as_the_broker_does():
    scenario = {"faults": [{"link": "a", "action": "drop"}, {"id": "mine", "link": "b", "action": "drop"},
                           {"link": "c", "action": "drop", "nth": [2]}]}
    assert [r["id"] for r in rules_of_run({}, scenario)] == ["r1", "mine", "r2"]
    recorded = {"configured": {"rules": [{"id": "r7", "link": "x", "action": "drop", "plan": "every message",
                                          "share": 1.0, "params": {}}]}}
    assert rules_of_run(recorded, scenario) == [{"id": "r7", "link": "x", "action": "drop", "params": {}}]


def test_an_nth_plan_names_messages_and_its_share_comes_from_what_it_matched():
    journal = [entry(i, float(i), "broker->pas:RT1", ubrn=f"u{i}") for i in range(1, 5)]
    write = {"link": "broker->pas:*", "action": "drop", "nth": [2]}
    doc = inputs_and_outcomes(rules_of_run({}, {"faults": [write]}), {}, journal,
                              {"discrepancies": []}, link_rates(journal))
    assert doc["configured"]["rules"][0]["share"] is None and doc["configured"]["rules"][0]["plan"] == "messages 2"
    assert doc["measured"]["rules"][0]["expected_fired"] == 1.0
    assert doc["measured"]["end_to_end_note"] == "no booking lost"



def test_a_legacy_trusts_middleware_settings_are_inputs_and_its_failures_count_after_the_brokers():
    legacy = {"trusts": ["RT4"], "middleware": {"queue": "memory", "crash_after_spine_failures": 1}}
    broker = [entry(5, 1.0, "broker->middleware:RT4", ubrn="u1")]
    middleware = [{**entry(1, 2.0, "middleware->pas:RT4", ubrn="u1", delivered=False), "rule_id": None,
                   "decision": "pass", "journal": "middleware"}]
    doc = inputs_and_outcomes([], {"legacy": legacy}, [*middleware, *broker],
                              {"discrepancies": [discrepancy("u1", "missing_at_pas", "lost")]}, {})
    assert doc["configured"]["legacy"] == legacy and doc["configured"]["rules"] == []
    assert doc["measured"]["lost_by_cause"] == {NO_RULE: 1}


@pytest.mark.timeout(60)
def test_a_rule_on_the_middlewares_links_is_an_input_of_its_own_measured_on_its_journal_only():
    # Both engines number their rules from r1: the middleware's is shown as `middleware:r1` and its
    # counts come from the middleware's journal, never from the broker's r1.
    rules = [{"id": "r1", "link": "broker->pas:*", "action": "drop", "probability": 0.1},
             {"id": "r1", "link": "middleware->spine", "action": "outage", "period_s": 1800, "duty": 0.4,
              "party": "middleware"}]
    broker = [{**entry(1, 1.0, "broker->pas:RT4", ubrn="u1", delivered=False), "rule_id": "r1", "decision": "drop"}]
    middleware = [{**entry(n, 2.0 + n, "middleware->spine", ubrn=f"u{n}", delivered=n != 2),
                   "rule_id": "r1" if n == 2 else None, "decision": "outage" if n == 2 else "pass",
                   "journal": "middleware", "event": "patient-read"} for n in (2, 3)]
    doc = inputs_and_outcomes(rules, {}, [*broker, *middleware],
                              {"discrepancies": [discrepancy("u1", "missing_at_pas", "lost"),
                                                 discrepancy("u2", "missing_at_pas", "lost")]}, {})
    shown = {r["id"]: r for r in doc["configured"]["rules"]}
    assert set(shown) == {"r1", "middleware:r1"} and shown["middleware:r1"]["party"] == "middleware"
    measured = {r["id"]: r for r in doc["measured"]["rules"]}
    assert (measured["middleware:r1"]["matched"], measured["middleware:r1"]["fired"]) == (2, 1)
    assert (measured["r1"]["matched"], measured["r1"]["fired"]) == (1, 1)
    assert doc["measured"]["lost_by_cause"] == {"rule r1 (drop)": 1, "rule middleware:r1 (outage)": 1}
    # As a run folder records them, the rules read back the same.
    again = rules_of_run({"configured": doc["configured"]}, {})
    assert inputs_and_outcomes(again, {}, [*broker, *middleware], {"discrepancies": []}, {})["configured"]["rules"] \
        == doc["configured"]["rules"]
