"""The scenario fields this library needs: population, cancellations and rebookings, per-site behaviour.

Each bad value gets one line naming the field; each good one reaches the parties or the workload.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.run.followups import FollowUps, chosen
from harness.run.runner import receiver_env
from harness.scenario.model import ScenarioError, parse_scenario
from harness.run.workload import Workload, discover
from party_common.identifiers import UBRN_SYSTEM
from tests.stack_inprocess import inprocess_stack


@pytest.mark.parametrize("data,field", [
    ({"population": {"trusts": ["RT1", "RX9"]}}, "population.trusts[1]: unknown trust 'RX9'"),
    ({"population": {"trusts": ["RT1", "RT1"]}}, "population.trusts[1]: trust 'RT1' listed twice"),
    ({"population": {"trusts": []}}, "population.trusts"),
    ({"population": {"practices": ["Y90001", "Y12345"]}}, "population.practices[1]: unknown practice"),
    ({"population": {"practices": 9}}, "population.practices: must be 1 to 4"),
    ({"population": {"patients_per_practice": 0}}, "population.patients_per_practice"),
    ({"population": {"wards": 3}}, "population.wards"),
    ({"workload": {"cancellations": 1.5}}, "workload.cancellations"),
    ({"workload": {"rebookings": -0.1}}, "workload.rebookings"),
    ({"receivers": {"sites": {"RT999": {}}}}, "receivers.sites.RT999: unknown site"),
    ({"receivers": {"sites": {"RT102": {"unavailable": 2}}}}, "receivers.sites.RT102.unavailable"),
    ({"receivers": {"sites": {"RT102": {"flaky": True}}}}, "receivers.sites.RT102.flaky"),
])
def test_invalid_new_fields_are_one_line_naming_the_field(data, field):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "s.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"s.yaml: {field}"), message


def test_population_and_sites_reach_the_parties_environment():
    env = receiver_env(parse_scenario({
        "population": {"practices": 2, "patients_per_practice": 50, "trusts": ["RT1", "RT3"]},
        "receivers": {"dedupe": False, "sites": {"RT102": {"unavailable": 0.5, "delay_ms": 40}}},
    }))
    assert env["GP_POPULATION_SIZE"] == env["SPINE_POPULATION_SIZE"] == "200"   # 50 at each of 4 practices
    assert [t["ods"] for t in json.loads(env["PAS_TRUSTS"])] == ["RT1", "RT3"]
    assert json.loads(env["PAS_SITES"]) == {"RT102": {"unavailable": 0.5, "delay_ms": 40}}
    assert env["PAS_DEDUPE"] == "false"
    assert not {"PAS_SITES", "PAS_TRUSTS"} & set(receiver_env(parse_scenario({})))   # the parties' defaults


def test_the_choice_of_follow_ups_depends_on_seed_and_index_alone():
    picks = [chosen(7, i, "cancel", 0.3) for i in range(1000)]
    assert picks == [chosen(7, i, "cancel", 0.3) for i in range(1000)]
    assert 250 < sum(picks) < 350
    assert not any(chosen(7, i, "cancel", 0.0) for i in range(100))


async def test_workload_keeps_to_the_population_and_practices_cancel_and_rebook(tmp_path):
    async with inprocess_stack(tmp_path, population_size=80) as (urls, client, _apps):
        population = await discover(client, urls, 5, only_practices=["Y90002"], only_trusts=["RT3"])
        assert list(population.practices) == ["Y90002"] and len(population.practices["Y90002"]) == 5
        assert population.services and all(sid.startswith("rt3-") for sid, _ in population.services)

        workload = Workload(urls, population, seed=4, bookings=6, concurrency=2)
        results = await workload.run(client)
        assert all(r.outcome == "accepted" and r.referral_id for r in results)
        settled = []

        async def settle():
            settled.append(True)

        followups = await FollowUps(workload, cancellations=1.0, rebookings=1.0).run(client, results, settle)
    cancels = [f for f in followups if f.action == "cancel"]
    rebooks = [f for f in followups if f.action == "rebook"]
    assert [f.outcome for f in cancels] == ["accepted"] * 6 and settled == [True, True]
    assert [f.outcome for f in rebooks] == ["accepted"] * 6
    assert not {f.ubrn for f in rebooks} & {r.ubrn for r in results}   # each rebooking is a new booking


async def test_cancelled_bookings_are_cancelled_at_the_practice_and_the_trust(tmp_path):
    async with inprocess_stack(tmp_path, population_size=40) as (urls, client, _apps):
        population = await discover(client, urls, 5, only_trusts=["RT1"])
        workload = Workload(urls, population, seed=2, bookings=4, concurrency=2)
        results = await workload.run(client)

        async def settle():
            return None

        followups = await FollowUps(workload, cancellations=1.0, rebookings=0.0).run(client, results, settle)
        assert [f.action for f in followups] == ["cancel"] * 4
        for r in results:
            gp = (await client.get(f"{urls.gp}/{r.practice}/Appointment",
                                   params={"identifier": f"{UBRN_SYSTEM}|{r.ubrn}"})).json()
            pas = (await client.get(f"{urls.pas}/RT1/Appointment",
                                    params={"identifier": f"{UBRN_SYSTEM}|{r.ubrn}"})).json()
            assert [e["resource"]["status"] for e in gp.get("entry", [])] == ["cancelled"]
            assert [e["resource"]["status"] for e in pas.get("entry", [])] == ["cancelled"]


def test_the_documented_example_is_a_valid_scenario():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(yaml.safe_load(example), "docs/scenarios.md")
    assert scenario.population.trusts == ["RT1", "RT2", "RT3", "RT4"] and scenario.workload.rebookings == 0.5
    assert scenario.receivers.sites["RT102"].unavailable == 0.5


async def test_outbox_backoff_reaches_the_broker_and_its_outbox(tmp_path, monkeypatch):
    from booking_broker.app import create_app
    from tests.inprocess import running

    env = receiver_env(parse_scenario({"outbox": {"max_backoff_s": 90}}))
    assert env["BROKER_OUTBOX_MAX_BACKOFF_S"] == "90.0"
    assert "BROKER_OUTBOX_MAX_BACKOFF_S" not in receiver_env(parse_scenario({}))   # the broker's default
    with pytest.raises(ScenarioError, match="outbox.max_backoff_s"):
        parse_scenario({"outbox": {"max_backoff_s": 0}}, "s.yaml")
    monkeypatch.setenv("BROKER_OUTBOX_MAX_BACKOFF_S", env["BROKER_OUTBOX_MAX_BACKOFF_S"])
    monkeypatch.setenv("BROKER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}")
    app = create_app()
    async with running(app):
        assert app.state.outbox.max_backoff == 90.0
