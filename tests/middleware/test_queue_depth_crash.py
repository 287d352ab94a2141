"""The engine's crash at a queue depth (MIDDLEWARE_CRASH_AT_QUEUE_DEPTH, docs/legacy-pas.md): messages
back up behind a slow PAS until one queued makes the queue N deep; that one is answered 200 and the
engine falls over on the restart path of the spine's crash (503 with Retry-After for `restart_s` on
its clock): a memory queue loses what it held (named in GET /queue, the message in flight apart), a
persistent one loses nothing and sends it again."""

from __future__ import annotations

import asyncio

import pytest

from middleware.v2 import stable_control_id
from party_common.identifiers import ubrn_from_sequence
from party_common.messaging import BOOKING_REQUEST
from tests.middleware.helpers import ODS, booking, post, run_until

pytestmark = pytest.mark.timeout(60)

# The PAS takes 300 s to answer a booking; the engine waits up to 600 s for it, so nothing is resent
# and the queue backs up behind the one it waits on.
SLOW_PAS_S = 300
BACKING_UP = {"clock": "virtual", "crash_at_queue_depth": 3, "restart_s": 120, "ack_timeout_s": 600}


def _control(n: int, k: int) -> str:
    return stable_control_id(ODS, booking(n, k)["id"], BOOKING_REQUEST)


async def _back_up_to_the_crash(app, client, pas) -> str:
    """Bookings 1-3 while the PAS sits on the first: the third makes the queue 3 deep. Returns the
    time the third was posted at."""
    pas.ack_delay_s = SLOW_PAS_S
    forwarder = app.state.forwarder
    assert (await post(client, booking(1, 1))).status_code == 200
    await run_until(app, lambda: len(pas.bookings()) == 1)   # sent; its ACK 300 s away
    assert (await post(client, booking(2, 2))).status_code == 200
    assert not forwarder.restarting and (await client.get("/queue")).json()["depth"] == 2
    at = app.state.clock.now().isoformat()
    # The message that makes the depth is taken and answered 200: the broker is told it is booked.
    assert (await post(client, booking(3, 3))).status_code == 200
    assert forwarder.restarting
    r = await post(client, booking(4, 4))
    assert r.status_code == 503 and r.headers["Retry-After"] == "120"
    return at


async def test_memory_queue_falls_over_at_its_depth_and_loses_what_it_held(middleware, pas, spine):
    async with middleware(**BACKING_UP) as (app, client):
        at = await _back_up_to_the_crash(app, client, pas)
        queue = (await client.get("/queue")).json()
        assert queue["depth"] == 0
        [restart] = queue["restarts"]
        assert restart["at"] == at and restart["queue"] == "memory"
        assert restart["reason"] == "the queue reached 3 messages (it falls over at 3)"
        # Booking 1 was sent before the crash (the PAS has it, its ACK unread); 2 and 3 never left.
        assert [m["ubrn"] for m in restart["in_flight"]] == [ubrn_from_sequence(1)]
        assert [m["ubrn"] for m in restart["lost"]] == [ubrn_from_sequence(2), ubrn_from_sequence(3)]
        await run_until(app, lambda: not app.state.forwarder.restarting)
        assert app.state.clock.elapsed() == 120
        # Back up: what comes now is forwarded, nothing it lost; the first booking's late ACK is read
        # by the engine that fell over and settles nothing.
        assert (await post(client, booking(5, 5))).status_code == 200
        await run_until(app, lambda: len(app.state.forwarder.queue._settled) == 1)
        assert sorted(pas.booked.values()) == [ubrn_from_sequence(1), ubrn_from_sequence(5)]
        assert [c for _, c in pas.bookings()] == [_control(1, 1), _control(5, 5)]
        assert (await client.get("/queue")).json()["settled"] == {"acked": 1}
        sent = [(e["ubrn"], e["outcome"]) for e in (await client.get("/journal")).json()["entries"]
                if e["link"] == f"middleware->pas:{ODS}"]
        assert sent == [(ubrn_from_sequence(1), "delivered"), (ubrn_from_sequence(5), "delivered")]


async def test_persistent_queue_falls_over_at_its_depth_and_loses_nothing(middleware, pas, spine):
    async with middleware(queue="persistent", **BACKING_UP) as (app, client):
        await _back_up_to_the_crash(app, client, pas)
        queue = (await client.get("/queue")).json()
        assert queue["depth"] == 3
        assert queue["restarts"][0]["lost"] == [] and queue["restarts"][0]["in_flight"] == []
        await run_until(app, lambda: not app.state.forwarder.restarting)
        # Back as deep as it went down: a message that finds it deeper does not knock it over again.
        assert (await post(client, booking(5, 5))).status_code == 200
        assert not app.state.forwarder.restarting
        await run_until(app, lambda: len(pas.booked) == 4)
        assert sorted(pas.booked.values()) == [ubrn_from_sequence(i) for i in (1, 2, 3, 5)]
        # The first again after the restart, under its control id (the PAS answers it as before).
        assert [c for _, c in pas.bookings()] == [_control(1, 1), _control(1, 1), _control(2, 2), _control(3, 3),
                                                  _control(5, 5)]
        await run_until(app, lambda: pas.written == 5)
        while (queue := (await client.get("/queue")).json())["depth"]:   # the last ACK read, then settled
            await asyncio.sleep(0.01)
        assert queue["settled"] == {"acked": 4} and len(queue["restarts"]) == 1


async def test_a_queue_that_drains_below_its_depth_does_not_fall_over(middleware, pas, spine):
    async with middleware(**BACKING_UP) as (app, client):
        pas.ack_delay_s = SLOW_PAS_S
        assert (await post(client, booking(1, 1))).status_code == 200
        assert (await post(client, booking(2, 2))).status_code == 200
        await run_until(app, lambda: len(app.state.forwarder.queue._settled) == 1)   # the first acked
        assert (await post(client, booking(3, 3))).status_code == 200   # 2 deep again, not 3
        assert not app.state.forwarder.restarting
        await run_until(app, lambda: len(app.state.forwarder.queue._settled) == 3)
        assert (await client.get("/queue")).json()["restarts"] == []


async def test_without_the_condition_a_backed_up_queue_only_waits(middleware, pas, spine):
    async with middleware(**{**BACKING_UP, "crash_at_queue_depth": 0}) as (app, client):
        pas.ack_delay_s = SLOW_PAS_S
        for n in range(1, 6):
            assert (await post(client, booking(n, n))).status_code == 200
        assert (await client.get("/queue")).json()["depth"] == 5
        await run_until(app, lambda: len(app.state.forwarder.queue._settled) == 5)
        assert app.state.clock.elapsed() == 5 * SLOW_PAS_S and not app.state.forwarder.restarts
