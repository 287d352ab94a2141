"""Reliable delivery: a transactional outbox drained by a worker that retries with backoff.

Rows are written in the same transaction as the ledger change they announce, so a booking the
broker accepted always has its messages on record, even across a restart. The worker retries each
row (tenacity) until the receiver answers: accepted or refused, never silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import orjson
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, retry_if_result, wait_exponential_jitter

from party_common.database import Database

from .courier import Courier
from .metrics import BrokerMetrics
from .models import OutboxMessage
from .outcomes import DELIVERED, RETRYABLE, Delivery

log = structlog.get_logger("outbox")

# Called in the transaction that settles a row; returns the rows that follow from it.
Settled = Callable[[AsyncSession, OutboxMessage, Delivery], Awaitable[list[OutboxMessage]]]


def outbox_row(ubrn: str, kind: str, link: str, event: str, url: str, body: dict) -> OutboxMessage:
    now = datetime.now(timezone.utc)
    return OutboxMessage(ubrn=ubrn, kind=kind, link=link, event=event, url=url, body=orjson.dumps(body).decode(),
                         state="pending", attempts=0, created_at=now, updated_at=now)


class Outbox:
    def __init__(self, db: Database, courier: Courier, metrics: BrokerMetrics, *, concurrency: int = 32,
                 max_backoff: float = 2.0):
        self.db = db
        self.courier = courier
        self.metrics = metrics
        self.on_settled: Settled | None = None
        self.max_backoff = max_backoff
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        # Settled rows stay "in flight" until a poll that began after their commit has run, so a
        # poll that read them as pending just before they settled cannot send them again.
        self._finished: set[int] = set()
        self._busy: dict[tuple[str, str], int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._workers: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for task in [self._task, *self._workers]:
            if task:
                task.cancel()
        for task in [self._task, *self._workers]:
            if task:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

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
            self._wake.clear()
            settled_before = set(self._finished)
            try:
                async with self.db.session() as s:
                    q = (select(OutboxMessage).where(OutboxMessage.state == "pending")
                         .order_by(OutboxMessage.id).limit(500))
                    found = list((await s.execute(q)).scalars())
            except Exception:  # the database may be briefly unavailable; try again on the next tick
                log.warning("outbox poll failed", exc_info=True)
                continue
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
                    continue
                self._busy[key] = row.id
                self._in_flight.add(row.id)
                task = asyncio.create_task(self._deliver(row))
                self._workers.add(task)
                task.add_done_callback(self._workers.discard)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            async with self._slots:
                body = orjson.loads(row.body)
                attempts = row.attempts
                delivery: Delivery | None = None
                async for attempt in AsyncRetrying(
                    wait=wait_exponential_jitter(multiplier=0.02, max=self.max_backoff),
                    retry=retry_if_result(lambda d: d.outcome in RETRYABLE), reraise=True,
                ):
                    with attempt:
                        attempts += 1
                        delivery = await self.courier.send(row.link, row.event, "POST", row.url, body,
                                                           ubrn=row.ubrn, attempt=attempts)
                    if not attempt.retry_state.outcome.failed:
                        attempt.retry_state.set_result(delivery)
                await self._settle(row.id, delivery, attempts)
        finally:
            self._finished.add(row.id)

    async def _settle(self, row_id: int, delivery: Delivery, attempts: int) -> None:
        async with self.db.session() as s:
            row = await s.get(OutboxMessage, row_id)
            row.state = "delivered" if delivery.outcome == DELIVERED else "rejected"
            row.attempts = attempts
            row.updated_at = datetime.now(timezone.utc)
            follow_ups = await self.on_settled(s, row, delivery) if self.on_settled else []
            s.add_all(follow_ups)
            await s.commit()
        if follow_ups:
            self.notify()
