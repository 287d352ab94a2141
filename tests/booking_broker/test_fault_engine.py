"""The fault engine in isolation: plans, keyed draws, windows, actions' parameters."""

from __future__ import annotations

import math
import random

import pytest

from party_common.links.faults.actions import REGISTRY
from party_common.links.faults.engine import FaultEngine, RuleError
from party_common.fault_rules import ACTION_PARAMS, FaultRule
from party_common.journal_entries import message_key


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
    # ...each taking the parameters the shared rule model declares, which scenario files are checked with.
    assert set(REGISTRY) == set(ACTION_PARAMS)
    assert all(REGISTRY[name].Params is ACTION_PARAMS[name] for name in REGISTRY)


def test_an_action_taking_other_parameters_than_declared_is_refused():
    from party_common.links.faults.actions import Action, register
    from party_common.fault_rules import DelayParams

    class Drop2(Action):
        name = "drop"
        Params = DelayParams

    with pytest.raises(TypeError, match="other parameters"):
        register(Drop2)
    assert REGISTRY["drop"] is not Drop2


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


def _key(message_id: str, link: str = "broker->pas:RT1", attempt: int = 1):
    return message_key(link, "booking-request", message_id, "origin", attempt, "delivery")


def test_a_probability_decides_each_message_alike_whatever_order_messages_arrive_in():
    # Under concurrency the same bookings reach a link in a different order every run; the seed must
    # still drop the same bookings, not merely as many.
    ids = [f"m{i}" for i in range(500)]
    shuffled = random.Random(3).sample(ids, len(ids))

    def run(order: list[str], seed: int = 7) -> dict[str, str]:
        e = FaultEngine(seed)
        e.add(rule(link="broker->pas:*", event="booking-request", action="drop", probability=0.5))
        return {m: e.decide("broker->pas:RT1", "booking-request", _key(m)).name for m in order}

    in_order = run(ids)
    assert run(shuffled) == in_order
    assert run(list(reversed(ids))) == in_order
    assert 200 < list(in_order.values()).count("drop") < 300
    assert run(ids, seed=8) != in_order


def test_a_message_sent_again_is_a_fresh_draw_and_so_is_each_attempt():
    e = FaultEngine(1)
    e.add(rule(link="l", action="drop", probability=0.5))
    resent = [e.decide("l", "booking-request", _key("m1", "l")).name for _ in range(40)]
    retried = [e.decide("l", "booking-request", _key("m2", "l", attempt=n)).name for n in range(1, 41)]
    assert {"drop", "pass"} == set(resent) == set(retried)


@pytest.mark.parametrize("p", [0.01, 0.3, 0.57, 0.9])
def test_probability_p_fires_for_about_p_of_many_messages(p):
    n = 20_000
    e = FaultEngine(11)
    e.add(rule(link="broker->pas:*", action="drop", probability=p))
    hits = sum(e.decide("broker->pas:RT2", "booking-request", _key(f"b{i}", "broker->pas:RT2")).name == "drop"
               for i in range(n))
    # Five standard deviations of a binomial count: a fixed seed, so never flaky, and still tight.
    assert abs(hits - p * n) < 5 * math.sqrt(n * p * (1 - p)), hits


def test_two_probability_rules_on_one_message_fire_independently():
    n = 20_000
    e = FaultEngine(5)
    first = e.add(rule(link="l", action="drop", probability=0.5))
    second = e.add(rule(link="l", action="delay", ms=1, probability=0.5))
    got = [e.decide("l", "e", _key(f"m{i}", "l")).name for i in range(n)]
    # The first rule decides half; the second fires for half of the rest.
    assert abs(got.count("drop") - n / 2) < 5 * math.sqrt(n / 4)
    assert abs(got.count("delay") - n / 4) < 5 * math.sqrt(n * 3 / 16)
    assert first.id != second.id


def test_raising_a_rules_probability_keeps_the_messages_it_already_hit():
    def dropped(p: float) -> set[str]:
        e = FaultEngine(2)
        e.add(rule(id="lossy", link="l", action="drop", probability=p))
        return {m for m in (f"m{i}" for i in range(1000)) if e.decide("l", "e", _key(m, "l")).name == "drop"}

    assert dropped(0.2) < dropped(0.5)


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
    from party_common.links.faults.actions import Attempt, build
    from party_common.links.outcomes import Delivery

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
    from party_common.journal_entries import message_key

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
