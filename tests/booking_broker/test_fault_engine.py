"""The fault engine in isolation: plans, streams per link, windows, actions' parameters."""

from __future__ import annotations

import pytest

from booking_broker.faults.actions import REGISTRY
from booking_broker.faults.engine import FaultEngine, RuleError
from booking_broker.faults.rules import FaultRule


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def monotonic(self):
        return self.t

    def now(self):  # pragma: no cover - not used by decisions
        raise AssertionError

    async def sleep(self, s):
        self.t += s


def rule(**kw) -> FaultRule:
    return FaultRule.model_validate(kw)


def decisions(engine: FaultEngine, link: str, n: int, event: str = "booking-request") -> list[str]:
    return [engine.decide(link, event).name for _ in range(n)]


def test_every_action_named_in_the_issue_is_registered():
    assert set(REGISTRY) == {"drop", "lose-ack", "delay", "duplicate", "reorder", "corrupt", "error", "timeout",
                             "outage"}


def test_every_k_of_n_is_exact_and_spread():
    e = FaultEngine(1)
    e.add(rule(link="broker->pas:*", action="drop", every={"k": 57, "n": 100}))
    got = decisions(e, "broker->pas:RT1", 1000)
    assert got.count("drop") == 570
    for block in range(10):
        assert got[block * 100:(block + 1) * 100].count("drop") == 57
    # Spread, not bunched: never more than two passes in a row at 57%.
    assert "pass,pass,pass" not in ",".join(got)


def test_nth_counts_matching_messages_from_one():
    e = FaultEngine(1)
    e.add(rule(link="broker->spine", event="booking-request", action="error", nth=[3, 7]))
    got = [e.decide("broker->spine", ev).name for ev in ["booking-request", "allocate-ubrn"] * 8]
    hits = [i for i, d in enumerate(got) if d == "error"]
    assert hits == [4, 12]  # the 3rd and 7th booking-request, counting only those


def test_probability_is_seeded_per_link_and_other_links_are_untouched():
    def run(extra_rule: bool, seed: int = 4):
        e = FaultEngine(seed)
        e.add(rule(link="broker->pas:RT1", action="drop", probability=0.5))
        if extra_rule:
            e.add(rule(link="broker->gp:*", action="drop", probability=0.9))
        out = []
        for _ in range(200):
            out.append(e.decide("broker->pas:RT1", "booking-request").name)
            e.decide("broker->gp:Y90001", "booking-request")
        return out

    base = run(False)
    assert base == run(False)
    assert base == run(True)  # a rule on another link changes no decision here
    assert base != run(False, seed=5)
    assert 70 < base.count("drop") < 130


def test_window_limits_a_rule_to_its_time():
    clock = FakeClock()
    e = FaultEngine(1, clock)
    e.add(rule(link="broker->spine", action="outage", window={"from": 10, "to": 20}))
    assert e.decide("broker->spine", "x").name == "pass"
    clock.t += 15
    assert e.decide("broker->spine", "x").name == "outage"
    clock.t += 10
    assert e.decide("broker->spine", "x").name == "pass"


def test_flapping_outage_follows_period_and_duty():
    clock = FakeClock()
    e = FaultEngine(1, clock)
    e.add(rule(link="broker->spine", action="outage", period_s=10, duty=0.3))
    states = []
    for _ in range(20):
        states.append(e.decide("broker->spine", "x").name)
        clock.t += 1
    assert states[:10] == ["outage"] * 3 + ["pass"] * 7
    assert states[10:] == states[:10]


def test_reset_restarts_streams_counters_and_clock():
    clock = FakeClock()
    e = FaultEngine(2, clock)
    e.add(rule(link="l", action="drop", probability=0.5))
    first = decisions(e, "l", 50)
    e.reset(keep_rules=True)
    assert decisions(e, "l", 50) == first
    e.reset()
    assert e.rules == [] and decisions(e, "l", 3) == ["pass"] * 3


@pytest.mark.parametrize("bad,message", [
    ({"link": "l", "action": "explode"}, "unknown action"),
    ({"link": "l", "action": "delay", "ms": -1}, "ms"),
    ({"link": "l", "action": "error", "status": 200}, "status"),
    ({"link": "l", "action": "duplicate", "copies": 1}, "copies"),
    ({"link": "l", "action": "drop", "colour": "red"}, "colour"),
])
def test_bad_rules_are_refused_when_added(bad, message):
    with pytest.raises(RuleError, match=message):
        FaultEngine(1).add(rule(**bad))


def test_a_rule_gives_one_plan_only():
    with pytest.raises(ValueError):
        rule(link="l", action="drop", probability=0.5, nth=[1])


async def test_delay_draws_from_the_parameter_stream_and_follows_the_clock():
    from booking_broker.faults.actions import Attempt, build
    from booking_broker.outcomes import Delivery

    clock = FakeClock()
    action = build("delay", {"ms": 100, "jitter_ms": 50})
    sent = []

    async def send(content=None, copy=False):
        sent.append(clock.t)
        return Delivery("l", "e", "delivered", 200, {}, 1.0, delivered=True)

    import random
    d = await action.apply(Attempt("l", "e", {}, send, clock, random.Random(1), 0.0))
    assert d.outcome == "delivered"
    assert 1000.1 <= sent[0] <= 1000.15


def test_an_actions_parameters_follow_the_message_not_its_place_on_the_link():
    # A delay's length must not depend on which of two concurrent messages reached the link first,
    # or a replay would give each message the other's delay.
    from booking_broker.faults.script import message_key

    first, second = (message_key("broker->pas:RT1", "booking-request", m, None, 1, "delivery") for m in ("m1", "m2"))
    a = FaultEngine(seed=5)
    draws_a = {k: a.params_stream(k).random() for k in (first, second)}
    b = FaultEngine(seed=5)
    draws_b = {k: b.params_stream(k).random() for k in (second, first)}
    assert draws_a == draws_b
    assert draws_a[first] != draws_a[second]
    # The same message decided again (a resend) draws afresh; another seed draws differently.
    assert a.params_stream(first).random() != draws_a[first]
    assert FaultEngine(seed=6).params_stream(first).random() != draws_a[first]
