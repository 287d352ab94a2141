"""The fault engine's replay mode: recorded decisions by message, whatever order the messages come in."""

from __future__ import annotations

import pytest

from booking_broker.faults.engine import FaultEngine, RuleError
from booking_broker.faults.rules import FaultRule
from booking_broker.faults.script import decisions_from_journal, message_key
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
    assert engine.as_json()["replay"] == {"decisions": 3, "used": 3}


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
        assert r.status_code == 200 and r.json()["replay"] == {"decisions": 3, "used": 0}
        assert len((await client.get(f"{b}/faults")).json()["rules"]) == 2
