"""The fault engine's replay mode: recorded decisions by message, whatever order the messages come in."""

from __future__ import annotations

import asyncio

import pytest

from party_common.links.faults.engine import FaultEngine, RuleError
from party_common.links.faults.script import Sequencer
from party_common.fault_rules import FaultRule
from party_common.journal_entries import decisions_from_journal, message_key, order_from_journal
from tests.stack_inprocess import inprocess_stack

RULES = [FaultRule(link="broker->pas:*", event="booking-request", action="drop", probability=0.5),
         FaultRule(link="broker->gp:*", action="duplicate", probability=0.5)]


def _entry(seq, link, message_id, decision="pass", rule_id=None, attempt=1):
    return {"seq": seq, "link": link, "event": "booking-request", "message_id": message_id, "origin_id": "o",
            "attempt": attempt, "purpose": "delivery", "decision": decision, "rule_id": rule_id}


RECORDED = [
    _entry(1, "broker->pas:RT1", "m1", "drop", "r1"),
    _entry(2, "broker->pas:RT1", "m2"),
    _entry(3, "broker->gp:Y90001", "m3", "duplicate", "r2"),
    _entry(4, "broker->gp:Y90001", "m3", "duplicate-copy", "r2"),
    _entry(5, "broker->pas:RT1", "m1", "pass", None, attempt=2),
    _entry(6, "broker->pas:RT1", "m4"),
    _entry(7, "broker->pas:RT1", "m4", "drop", "r1"),   # the same message again: its second decision
]


def _engine(decisions) -> FaultEngine:
    engine = FaultEngine(seed=3)
    engine.configure(3, RULES)
    engine.load_script(decisions)
    return engine


def _decide(engine, e):
    key = message_key(e["link"], e["event"], e["message_id"], e["origin_id"], e["attempt"], e["purpose"])
    return engine.decide(e["link"], e["event"], key).name


def test_script_holds_only_the_decisions_that_were_not_pass():
    script = decisions_from_journal(RECORDED)
    assert [(d["message_id"], d["attempt"], d["occurrence"], d["rule_id"]) for d in script] == [
        ("m1", 1, 1, "r1"), ("m3", 1, 1, "r2"), ("m4", 1, 2, "r1")]


@pytest.mark.parametrize("order", [[0, 1, 2, 4, 5, 6], [5, 4, 2, 1, 0, 6], [2, 5, 6, 0, 4, 1]])
def test_each_message_gets_its_recorded_decision_in_any_order(order):
    engine = _engine(decisions_from_journal(RECORDED))
    decided = {}
    for i in order:
        decided.setdefault(RECORDED[i]["seq"], _decide(engine, RECORDED[i]))
    assert decided == {1: "drop", 2: "pass", 3: "duplicate", 5: "pass", 6: "pass", 7: "drop"}
    assert engine.as_json()["replay"] == {"decisions": 3, "used": 3, "ordered": 0, "passed_over": 0}


def test_messages_the_script_does_not_name_pass_and_rules_no_longer_decide():
    engine = _engine([])
    stranger = _entry(1, "broker->pas:RT9", "never-recorded")
    assert all(_decide(engine, stranger | {"attempt": n}) == "pass" for n in range(1, 200))


def test_a_script_naming_an_unconfigured_rule_is_refused():
    with pytest.raises(RuleError, match="r7"):
        _engine([{"link": "x", "event": "e", "rule_id": "r7"}])


def test_a_new_fault_plan_ends_replay_mode():
    engine = _engine(decisions_from_journal(RECORDED))
    engine.configure(3, RULES)
    assert "replay" not in engine.as_json()


async def test_replay_script_endpoint_checks_its_input(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = urls.broker
        await client.put(f"{b}/faults", json={"seed": 1, "rules": [r.model_dump(exclude_none=True) for r in RULES]})
        r = await client.put(f"{b}/faults/replay", json={"decisions": [{"link": "x", "event": "e"}]})
        assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["decisions.0.rule_id"]
        r = await client.put(f"{b}/faults/replay", json={"decisions": [{"link": "x", "event": "e", "rule_id": "r9"}]})
        assert r.status_code == 422 and "r9" in r.json()["issue"][0]["diagnostics"]
        r = await client.put(f"{b}/faults/replay", json={"decisions": decisions_from_journal(RECORDED)})
        assert r.status_code == 200 and r.json()["replay"]["decisions"] == 3
        assert len((await client.get(f"{b}/faults")).json()["rules"]) == 2


def _allocation(seq, origin, attempt=1):
    return {"seq": seq, "link": "broker->spine", "event": "allocate-ubrn", "message_id": None, "origin_id": origin,
            "attempt": attempt, "purpose": "delivery", "decision": "pass", "rule_id": None}


ALLOCATIONS = [_allocation(1, "a"), _allocation(2, "b"), _allocation(3, "a", attempt=2), _allocation(4, "c")]


async def test_allocations_go_through_in_the_recorded_order_whatever_order_they_arrive_in():
    order = order_from_journal(RECORDED + ALLOCATIONS)
    assert [(o["origin_id"], o["attempt"]) for o in order] == [("a", 1), ("b", 1), ("a", 2), ("c", 1)]
    sequencer = Sequencer(order, patience=5)
    through = []

    async def carry(entry, delay):
        await asyncio.sleep(delay)
        key = message_key(entry["link"], entry["event"], None, entry["origin_id"], entry["attempt"], "delivery")
        async with sequencer.turn(key):
            through.append(entry["seq"])

    await asyncio.gather(*(carry(e, 0.01 * (4 - i)) for i, e in enumerate(ALLOCATIONS)))
    assert through == [1, 2, 3, 4] and sequencer.passed_over == 0


async def test_a_recorded_allocation_that_never_comes_is_passed_over_after_patience():
    sequencer = Sequencer(order_from_journal(ALLOCATIONS), patience=0.05)
    key = message_key("broker->spine", "allocate-ubrn", None, "b", 1, "delivery")
    async with sequencer.turn(key):   # "a" never asks
        pass
    assert sequencer.passed_over == 1 and sequencer.next == 2
