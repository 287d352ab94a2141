"""Reliable delivery: a transactional outbox drained by a worker that retries with backoff.

Rows are written in the same transaction as the ledger change they announce, so a booking the
broker accepted always has its messages on record, even across a restart. The worker retries each
row (tenacity) until the receiver answers: accepted or refused, never silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import orjson
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import retry_if_result

from party_common.clock import Clock, this_task
from party_common.database import Database

from party_common.links.courier import Courier
from booking_broker.metrics import BrokerMetrics
from booking_broker.models import OutboxMessage
from party_common.links.outcomes import DELIVERED, RETRYABLE, Delivery
from party_common.reaping import reap
from booking_broker.retries import clocked_retrying, keep_result

log = structlog.get_logger("outbox")

# Called in the transaction that settles a row; returns the rows that follow from it.
Settled = Callable[[AsyncSession, OutboxMessage, Delivery], Awaitable[list[OutboxMessage]]]


def outbox_row(now: datetime, ubrn: str, kind: str, link: str, event: str, url: str, body: dict) -> OutboxMessage:
    return OutboxMessage(ubrn=ubrn, kind=kind, link=link, event=event, url=url, body=orjson.dumps(body).decode(),
                         state="pending", attempts=0, created_at=now, updated_at=now)


class Outbox:
    def __init__(self, db: Database, courier: Courier, metrics: BrokerMetrics, clock: Clock, *,
                 concurrency: int = 32, max_backoff: float = 2.0):
        self.db = db
        self.clock = clock
        self.courier = courier
        self.metrics = metrics
        self.on_settled: Settled | None = None
        self.max_backoff = max_backoff
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        # Settled rows stay "in flight" until a poll that began after their commit has run, so a
        # poll that read them as pending just before they settled cannot send them again.
        self._finished: set[int] = set()
        self._busy: dict[tuple[str, str], int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._workers: set[asyncio.Task] = set()
        self._polling = False
        self._starting: set[asyncio.Task] = set()   # made, not yet run
        self._queued: set[asyncio.Task] = set()     # waiting for a slot
        self._sending: set[asyncio.Task] = set()    # holding a slot
        self._deferred = False  # a poll left a row for later behind another of its booking

    @property
    def busy(self) -> bool:
        """Work under way that is not waiting on the clock: a poll due or running, a delivery not
        asleep (backoff, injected delay). A delivery waiting for a slot waits on those holding one,
        until one lets go: from then it is about to run. A harness on a virtual clock waits for this
        before moving time."""
        return (self._wake.is_set() or self._polling or bool(self._starting)
                or (bool(self._queued) and len(self._sending) < self.concurrency)
                or any(not self.clock.is_sleeping(t) for t in self._sending))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await reap(self._task, *self._workers)

    def notify(self) -> None:
        self._wake.set()

    async def depth(self) -> int:
        async with self.db.session() as s:
            n = (await s.execute(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.state == "pending"))).scalar_one()
        self.metrics.outbox_depth.set(n)
        return n

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.5)
            self._polling = True
            self._wake.clear()
            try:
                await self._poll()
            finally:
                self._polling = False

    async def _poll(self) -> None:
        settled_before = set(self._finished)
        try:
            async with self.db.session() as s:
                q = (select(OutboxMessage).where(OutboxMessage.state == "pending")
                     .order_by(OutboxMessage.id).limit(500))
                found = list((await s.execute(q)).scalars())
        except Exception:  # the database may be briefly unavailable; try again on the next tick
            log.warning("outbox poll failed", exc_info=True)
            return
        self._in_flight -= settled_before
        self._finished -= settled_before
        for key in [k for k, row_id in self._busy.items() if row_id not in self._in_flight]:
            del self._busy[key]
        for row in found:
            if row.id in self._in_flight:
                continue
            # One message at a time per booking and party, in order: a cancellation must not
            # overtake the booking it cancels while that booking is still being retried.
            key = (row.ubrn, row.kind)
            if key in self._busy:
                self._deferred = True
                continue
            self._busy[key] = row.id
            self._in_flight.add(row.id)
            task = asyncio.create_task(self._deliver(row))
            self._starting.add(task)
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _deliver(self, row: OutboxMessage) -> None:
        me = this_task()
        self._starting.discard(me)
        self._queued.add(me)
        try:
            async with self._slots:
                self._queued.discard(me)
                self._sending.add(me)
                body = orjson.loads(row.body)
                attempts = row.attempts
                delivery: Delivery | None = None
                async for attempt in clocked_retrying(
                    self.clock, f"{row.ubrn}:{row.kind}:{row.event}", multiplier=0.02, max_s=self.max_backoff,
                    retry=retry_if_result(lambda d: d.outcome in RETRYABLE), reraise=True,
                ):
                    with attempt:
                        attempts += 1
                        delivery = await self.courier.send(row.link, row.event, "POST", row.url, body,
                                                           ubrn=None if row.kind.startswith("referral") else row.ubrn,
                                                           attempt=attempts)
                    keep_result(attempt, delivery)
                assert delivery is not None, "the loop ends on an attempt that returned, or raises"
                await self._settle(row.id, delivery, attempts)
        finally:
            self._queued.discard(me)
            self._sending.discard(me)
            self._finished.add(row.id)
            if self._deferred:
                # The row left behind this one can go now; poll for it rather than wait for the tick.
                self._deferred = False
                self.notify()

    async def _settle(self, row_id: int, delivery: Delivery, attempts: int) -> None:
        async with self.db.session() as s:
            row = await s.get(OutboxMessage, row_id)
            if row is None:  # removed by a control reset while on the wire
                return
            row.state = "delivered" if delivery.outcome == DELIVERED else "rejected"
            row.attempts = attempts
            row.updated_at = self.clock.now()
            follow_ups = await self.on_settled(s, row, delivery) if self.on_settled else []
            s.add_all(follow_ups)
            await s.commit()
        if follow_ups:
            self.notify()
