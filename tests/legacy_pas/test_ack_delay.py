"""LEGACY_PAS_ACK_DELAY_MS on a virtual clock: a booking is done at once and answered only when the
clock has moved the delay on; asleep meanwhile, the PAS is not busy (docs/clock.md)."""

from __future__ import annotations

import asyncio

import pytest

from .helpers import ANSWER_TIMEOUT_S, ack, appointments, connection, legacy_pas, s12, s25, send

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(60)]


async def _until(condition) -> None:
    # Bounded by the test's timeout; polls a state, never measures time.
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_booking_is_answered_after_the_delay_on_the_party_clock(sqlite_url):
    async with legacy_pas(sqlite_url, clock="virtual", ack_delay_ms=30_000) as (app, client, port):
        clock = app.state.clock
        async with connection(port) as (reader, writer):
            answer = asyncio.create_task(send(reader, writer, s12("C1", "UBRN-1")))
            await _until(lambda: clock.sleepers == 1)
            assert clock.next_wakeup() == pytest.approx(30.0)
            assert not clock.busy  # asleep on its clock, so a harness may move time
            assert [r["ubrn"] for r in await appointments(client)] == ["UBRN-1"]  # booked before it answers
            await clock.advance_by(29.999)
            await asyncio.sleep(0.05)
            assert not answer.done() and clock.sleepers == 1
            await clock.advance_by(0.001)
            assert ack(await asyncio.wait_for(answer, ANSWER_TIMEOUT_S)) == ("AA", "C1")
            # A query is not a booking: answered without waiting on the clock.
            assert ack(await send(reader, writer, s25("Q1")))[0] == "AA"
        await _until(lambda: clock.calls_answered == 2)
        assert clock.calls_received == 2 and clock.sleepers == 0 and clock.elapsed() == pytest.approx(30.0)
