"""The harness does not move time while a call between two parties (or the harness and a party) is
on the wire, as a request or as an answer, nor while the harness is between two calls of a booking."""

from __future__ import annotations

import asyncio
import time

import httpx

from harness.run import clock_driver
from harness.run.clock_driver import ClockDriver, harness_activity
from harness.stack.endpoints import StackUrls
from party_common.app_factory import create_party_app
from party_common.clock import Clock, VirtualClock
from party_common.http_client import party_client
from tests.stack_inprocess import inprocess_stack


def _state(sent: int = 0, received: int = 0, unreached: int = 0, answered: int = 0, answers: int = 0) -> dict:
    return {"mode": "virtual", "elapsed_s": 0.0, "next_wakeup_s": 5.0, "sleepers": 1, "busy": False,
            "calls": {"sent": sent, "unreached": unreached, "received": received, "answered": answered,
                      "answers": answers}}


def _driver(states_by_poll: list[dict], activity: Clock | None = None) -> tuple[ClockDriver, list[int]]:
    """A driver over four fake parties whose /clock answers follow `states_by_poll` (spine's, per poll)."""
    polls = [0]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "spine":
            i = min(polls[0], len(states_by_poll) - 1)
            polls[0] += 1
            return httpx.Response(200, json=states_by_poll[i])
        return httpx.Response(200, json=_state())

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    urls = StackUrls(broker="http://broker", spine="http://spine", pas="http://pas", gp="http://gp")
    return ClockDriver(client, urls, activity), polls


async def test_settled_waits_until_a_call_sent_is_received():
    on_wire, arrived = _state(sent=1), _state(sent=1, received=1)
    driver, polls = _driver([on_wire, on_wire, on_wire, arrived])
    await driver.settled(poll_s=0)
    assert polls[0] == 4


async def test_settled_waits_until_an_answer_given_is_read():
    # The callee has answered (so is no longer busy) and the caller has not read it yet: nobody's
    # work for that instant, but the caller is about to act on it.
    answering = _state(sent=1, received=1, answered=1)
    read = _state(sent=1, received=1, answered=1, answers=1)
    driver, polls = _driver([answering, answering, read])
    await driver.settled(poll_s=0)
    assert polls[0] == 3


async def test_an_answer_read_early_does_not_hide_a_request_on_the_wire():
    # Each direction on its own: an answer read a moment before its callee counts it given must not
    # cancel out a request not yet received.
    skewed = _state(sent=2, received=1, answered=0, answers=1)
    driver, polls = _driver([skewed, skewed, _state(sent=2, received=2, answered=1, answers=1)])
    await driver.settled(poll_s=0)
    assert polls[0] == 3


async def test_settled_waits_for_the_harness_between_two_calls_of_a_booking():
    activity = Clock()
    driver, polls = _driver([_state()], activity)
    between = asyncio.Event()
    finish = asyncio.Event()

    async def booking():
        with driver.booking():
            between.set()
            await finish.wait()   # the harness's own work: the referral made, $book not yet sent

    task = asyncio.create_task(booking())
    await between.wait()
    settling = asyncio.create_task(driver.settled(poll_s=0.001))
    await asyncio.sleep(0.05)
    assert not settling.done() and polls[0] > 1
    finish.set()
    await task
    await settling


async def test_the_harness_counts_its_calls_as_the_parties_do(tmp_path):
    party_clock = VirtualClock()
    party = create_party_app("callee", {"resourceType": "CapabilityStatement"}, clock=party_clock)

    @party.get("/ping")
    async def ping():
        return {"ok": True}

    activity, transport = harness_activity(httpx.ASGITransport(app=party))
    async with httpx.AsyncClient(transport=transport, base_url="http://callee") as client:
        assert (await client.get("/ping")).status_code == 200
        assert (await client.get("/clock")).status_code == 200   # reading a clock is no call
    assert (activity.calls_sent, activity.answers_received) == (1, 1)
    assert (party_clock.calls_received, party_clock.calls_answered) == (1, 1)


async def test_a_call_that_never_arrives_is_waited_for_once_then_written_off():
    driver, polls = _driver([_state(sent=2, received=1)])
    started = time.monotonic()
    await driver.settled(poll_s=0.01, wire_patience_s=0.2)
    assert time.monotonic() - started >= 0.2
    before = polls[0]
    started = time.monotonic()
    await driver.settled(poll_s=0.01, wire_patience_s=0.2)
    assert polls[0] == before + 1 and time.monotonic() - started < 0.2


async def test_calls_still_arriving_are_not_written_off_however_long_they_take(monkeypatch):
    # A burst of calls a loaded machine works through one by one: each poll finds one more received
    # and one more sent, so something is on the wire for longer than the patience, but it moves.
    # Written off after the patience, time moved under the last of them (an MLLP query given up on).
    now = [0.0]

    def monotonic() -> float:
        now[0] += 0.1   # every reading of the time is a tenth of a second later: no real waiting
        return now[0]

    monkeypatch.setattr(clock_driver.time, "monotonic", monotonic)
    burst = [_state(sent=k + 1, received=k) for k in range(1, 30)]
    driver, polls = _driver([*burst, _state(sent=30, received=30)])
    await driver.settled(poll_s=0, wire_patience_s=0.5)
    assert polls[0] == len(burst) + 1 and driver.written_off == 0
    # Stuck, it is still written off after the patience.
    stuck, _ = _driver([_state(sent=2, received=1)])
    await stuck.settled(poll_s=0, wire_patience_s=0.5)
    assert stuck.written_off == 1


async def test_a_connection_refused_is_not_on_the_wire():
    driver, polls = _driver([_state(sent=1, unreached=1)])
    await driver.settled(poll_s=0)
    assert polls[0] == 1


async def test_parties_count_the_calls_between_them_at_both_ends():
    caller_clock, callee_clock = VirtualClock(), VirtualClock()
    callee = create_party_app("callee", {"resourceType": "CapabilityStatement"}, clock=callee_clock)

    @callee.get("/ping")
    async def ping():
        return {"ok": True}

    async with party_client(httpx.ASGITransport(app=callee), clock=caller_clock) as client:
        assert (await client.get("http://callee/ping")).status_code == 200
    assert (caller_clock.calls_sent, callee_clock.calls_received) == (1, 1)
    # The answer too, given at one end and read at the other.
    assert (callee_clock.calls_answered, caller_clock.answers_received) == (1, 1)

    # A request from outside the parties (the harness, a user) is not a call between parties.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=callee), base_url="http://callee") as plain:
        await plain.get("/ping")
    assert callee_clock.calls_received == 1

    async with party_client(clock=caller_clock, timeout=1) as client:
        try:
            await client.get("http://127.0.0.1:9/ping")   # the discard port: nothing listens
        except httpx.ConnectError:
            pass
    assert (caller_clock.calls_sent, caller_clock.calls_unreached) == (2, 1)




async def test_what_a_woken_receiver_sends_reaches_a_sender_already_at_its_time():
    # The legacy PAS (a receiver, moved first) wakes from its ACK delay and answers the middleware
    # (moved after it): the middleware must act on the answer at the new time, not the one before.
    pas_clock, middleware_clock = VirtualClock(), VirtualClock()
    seen: list[float] = []

    async def ack_after_delay() -> None:
        await pas_clock.sleep(20)
        seen.append(middleware_clock.monotonic())   # the middleware reads the ACK, now

    apps = {name: create_party_app(name, {"resourceType": "CapabilityStatement"}, clock=c)
            for name, c in (("legacy_pas", pas_clock), ("middleware", middleware_clock),
                            ("spine", VirtualClock()), ("pas", VirtualClock()), ("gp", VirtualClock()),
                            ("broker", VirtualClock()))}
    transport = httpx.MockTransport(lambda r: httpx.Response(404))
    routes = {f"http://{name}": httpx.ASGITransport(app=app) for name, app in apps.items()}
    async with httpx.AsyncClient(mounts=routes, transport=transport) as client:
        urls = StackUrls(**{name: f"http://{name}" for name in apps})
        acking = asyncio.create_task(ack_after_delay())
        await asyncio.sleep(0)
        await ClockDriver(client, urls).advance_to(20)
        await acking
    assert seen == [20]


async def test_the_driver_moves_real_parties_clocks(tmp_path):
    # The parties take clock moves only as JSON (docs/clock.md), so this also shows what the driver sends.
    async with inprocess_stack(tmp_path, population_size=50, clock="virtual") as (urls, client, _):
        driver = ClockDriver(client, urls)
        await driver.start()
        await driver.advance_to(90)
        assert {s["elapsed_s"] for s in (await driver.states()).values()} == {90}
