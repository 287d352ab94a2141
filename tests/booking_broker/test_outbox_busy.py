"""The outbox's `busy`: what a harness on a virtual clock waits for before it moves time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from booking_broker.metrics import BrokerMetrics
from booking_broker.models import Base
from booking_broker.outbox import Outbox, outbox_row
from party_common.links.outcomes import DELIVERED, Delivery
from party_common.clock import VirtualClock
from party_common.database import Database


class SlowCourier:
    """Delivers each message after a delay on the clock (a `delay` fault), then answers delivered."""

    def __init__(self, clock: VirtualClock, seconds: float):
        self.clock, self.seconds = clock, seconds
        self.sent: list[str] = []

    async def send(self, link, event, method, url, body, **_):
        await self.clock.sleep(self.seconds)
        self.sent.append(body["n"])
        return Delivery(link, event, DELIVERED, 200, None, self.seconds * 1000, delivered=True)


async def test_a_delivery_waiting_for_a_slot_is_busy_from_when_one_frees(tmp_path):
    clock = VirtualClock()
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/outbox.db", Base)
    await db.start()
    courier = SlowCourier(clock, 5)
    outbox = Outbox(db, courier, BrokerMetrics(), clock, concurrency=1)
    now = datetime(2006, 6, 5, 9, tzinfo=timezone.utc)
    async with db.session() as s:
        s.add_all([outbox_row(now, f"U{n}", "pas", "broker->pas:RT1", "booking-request", "http://pas/x", {"n": n})
                   for n in (1, 2)])
        await s.commit()
    await outbox.start()
    try:
        outbox.notify()
        while not clock.sleepers:
            await asyncio.sleep(0)
        # One delivery asleep on the clock holds the only slot; the other waits on it: nothing to wait for.
        for _ in range(5):
            await asyncio.sleep(0)
        assert not outbox.busy
        # The first delivery wakes, settles and lets go of its slot. From then until the second is
        # asleep in turn, the outbox has work under way, though that delivery has not run yet.
        await clock.advance_by(5)
        seen = []
        while not (courier.sent == [1] and clock.sleepers == 1):
            seen.append(outbox.busy)
            await asyncio.sleep(0)
        assert all(seen)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not outbox.busy and clock.sleepers == 1
        await clock.advance_by(5)
        while courier.sent != [1, 2]:
            await asyncio.sleep(0)
    finally:
        await outbox.stop()
        await db.dispose()
