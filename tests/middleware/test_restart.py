"""The engine's stated crash condition (docs/legacy-pas.md): after N spine look-ups in a row that
found no spine it restarts, answering 503 with Retry-After for `restart_s` on its clock; a memory
queue loses what it held (named in GET /queue), a persistent one loses nothing and sends it again."""

from __future__ import annotations

import asyncio

import pytest

from party_common.http_client import PARTY_CALL_HEADER
from party_common.identifiers import ubrn_from_sequence
from tests.middleware.helpers import booking, patient, post, run_until

pytestmark = pytest.mark.timeout(60)

CRASHING = {"clock": "virtual", "crash_after_spine_failures": 3, "spine_retry_s": 5, "restart_s": 120}


async def _queue_bookings_with_the_spine_gone(app, client, spine, n: int) -> None:
    spine.down = True
    for i in range(1, n + 1):
        assert (await post(client, booking(i, i))).status_code == 200
    forwarder = app.state.forwarder
    await run_until(app, lambda: forwarder.restarting)


async def _restart_is_503_with_retry_after_on_the_clock(app, client) -> None:
    r = await post(client, booking(9, 9))
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "120"
    assert (await client.get("/health")).status_code == 503
    # The control routes still answer: what happened can be read.
    assert (await client.get("/queue")).json()["restarting"] is True
    await app.state.clock.advance_by(60)
    assert (await post(client, booking(9, 9))).headers["Retry-After"] == "60"


async def test_memory_queue_loses_what_it_held_when_the_spine_knocks_the_engine_over(middleware, pas, spine):
    async with middleware(**CRASHING) as (app, client):
        await _queue_bookings_with_the_spine_gone(app, client, spine, 3)
        await _restart_is_503_with_retry_after_on_the_clock(app, client)
        queue = (await client.get("/queue")).json()
        assert queue["depth"] == 0
        [restart] = queue["restarts"]
        assert restart["queue"] == "memory" and "spine" in restart["reason"]
        assert [lost["ubrn"] for lost in restart["lost"]] == [ubrn_from_sequence(i) for i in (1, 2, 3)]
        spine.down = False
        await run_until(app, lambda: not app.state.forwarder.restarting)
        assert (await client.get("/health")).status_code == 200
        # Back up, it forwards what comes now, and nothing of what it lost.
        assert (await post(client, booking(4, 4))).status_code == 200
        await run_until(app, lambda: len(pas.booked) == 1)
        assert list(pas.booked.values()) == [ubrn_from_sequence(4)]
        assert [kind for kind, _ in pas.received] == ["SIU^S12^SIU_S12"]
        spine_reads = [e for e in (await client.get("/journal")).json()["entries"] if e["link"] == "middleware->spine"]
        assert [e["outcome"] for e in spine_reads[:3]] == ["failed"] * 3


async def test_persistent_queue_loses_nothing_and_sends_it_after_the_restart(middleware, pas, spine):
    async with middleware(queue="persistent", **CRASHING) as (app, client):
        await _queue_bookings_with_the_spine_gone(app, client, spine, 3)
        await _restart_is_503_with_retry_after_on_the_clock(app, client)
        queue = (await client.get("/queue")).json()
        assert queue["depth"] == 3 and queue["restarts"][0]["lost"] == []
        spine.down = False
        await run_until(app, lambda: len(pas.booked) == 3)
        assert sorted(pas.booked.values()) == [ubrn_from_sequence(i) for i in (1, 2, 3)]
        while (queue := (await client.get("/queue")).json())["depth"]:   # the last ACK read, then settled
            await asyncio.sleep(0.01)
        assert queue["settled"] == {"acked": 3}


async def test_without_a_crash_condition_a_vanished_spine_only_holds_the_queue(middleware, pas, spine):
    async with middleware(clock="virtual", spine_retry_s=5) as (app, client):
        spine.down = True
        assert (await post(client, booking(1, 1))).status_code == 200
        await run_until(app, lambda: spine.reads >= 10)
        assert not app.state.forwarder.restarting and pas.received == []
        spine.down = False
        await run_until(app, lambda: len(pas.booked) == 1)


async def test_a_patient_the_spine_does_not_know_is_refused_and_not_forwarded(middleware, pas, spine):
    async with middleware(clock="virtual") as (app, client):
        spine.unknown.add(patient(1))
        assert (await post(client, booking(1, 1))).status_code == 200
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        assert (await client.get("/queue")).json()["settled"] == {"refused": 1}
        assert pas.received == []


async def test_a_cancellation_is_not_held_by_the_spine_lookup(middleware, pas, spine):
    async with middleware(clock="virtual") as (app, client):
        assert (await post(client, booking(1, 1))).status_code == 200
        await run_until(app, lambda: len(pas.booked) == 1)
        spine.down = True
        reads = spine.reads
        assert (await post(client, booking(1, 1, event="booking-cancel", status="cancelled"))).status_code == 200
        await run_until(app, lambda: not pas.booked)
        assert spine.reads == reads


async def test_a_503_while_restarting_is_a_call_received_and_answered_on_the_clock(middleware, pas, spine):
    # Answered outside the clock's counting, each 503 was a call the harness saw sent and never
    # received, and (the sums being the stack's) an answer elsewhere on the wire hidden behind it.
    async with middleware(**CRASHING) as (app, client):
        await _queue_bookings_with_the_spine_gone(app, client, spine, 1)
        clock = app.state.clock
        before = (clock.calls_received, clock.calls_answered)
        r = await client.get("/health", headers={PARTY_CALL_HEADER: "1"})
        assert r.status_code == 503
        assert (clock.calls_received, clock.calls_answered) == (before[0] + 1, before[1] + 1)
