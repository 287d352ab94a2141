"""The forwarding worker and its MLLP exchanges on the party's clock: from the moment a message is queued until the worker is
asleep on the clock (here a `delay` fault on its PAS link) the middleware is busy, so a harness on a
virtual clock cannot move time under it; asleep, it is not, and the delay ends when time is moved."""

from __future__ import annotations

import asyncio

import pytest

from middleware import mllp
from party_common.clock import VirtualClock
from party_common.links.outcomes import UNREACHABLE
from tests.middleware.helpers import booking, post, run_until

pytestmark = pytest.mark.timeout(60)


async def test_a_queued_message_is_busy_until_the_worker_sleeps_on_the_clock(middleware, pas):
    async with middleware(clock="virtual", spine_lookup=False,
                          faults=[{"link": "middleware->pas:*", "action": "delay", "params": {"ms": 10000}}]
                          ) as (app, client):
        clock = app.state.clock
        while clock.busy:   # the worker's first look at the queue, at start
            await asyncio.sleep(0)
        assert (await post(client, booking(1, 1))).status_code == 200
        seen = []
        while not clock.sleepers:
            seen.append(clock.busy)
            await asyncio.sleep(0)
        assert seen and all(seen)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not clock.busy
        assert clock.next_wakeup() == pytest.approx(10.0)
        assert pas.received == []
        await run_until(app, lambda: len(pas.booked) == 1)
        assert clock.monotonic() >= 10.0


async def test_an_mllp_connect_is_the_senders_work_until_the_message_is_on_the_wire(monkeypatch):
    # Nothing is counted on the wire before the message is written: a connect counted as a call
    # (not busy) let the harness move time between it and the write, so the PAS took the message
    # later than it was sent and its ACK came after the sender's timeout.
    clock = VirtualClock()
    connecting, refuse = asyncio.Event(), asyncio.Event()

    async def connect(host, port, **kwargs):
        connecting.set()
        await refuse.wait()
        raise ConnectionRefusedError(host, port)

    monkeypatch.setattr(mllp, "open_hl7_connection", connect)

    async def send():
        with clock.working():
            return await mllp.exchange("127.0.0.1:2575", "MSH|^~\\&|\r", "C1", clock, 30, link="l", event="e")

    sending = asyncio.create_task(send())
    await connecting.wait()
    assert clock.busy and clock.calls_sent == 0
    refuse.set()
    assert (await sending).outcome == UNREACHABLE
    assert not clock.busy and clock.calls_sent == 0
