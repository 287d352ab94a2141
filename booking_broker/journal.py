"""The journal: every attempt on every link, in order, in the broker's database.

Entries are numbered as they happen and written in batches (group commit): the courier waits for its
entry to be committed (`durable`) before the broker acts on the attempt (answers the sender, marks an
outbox row delivered), and every attempt waiting at that moment is committed in the same
transaction. So a kill -9 cannot lose the entry of an attempt whose outcome anything depended on, and
the reconciler never scores a loss that did not happen. A sequence number becomes visible (in a read,
or as `head`) only once committed, so one lost in a crash before its commit, and handed out again
after the restart, was never seen by anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from sqlalchemy import func, insert, select

from party_common.clock import SYSTEM_CLOCK, Clock
from party_common.database import Database, table_of

from booking_broker.models import JournalEntry


class Journal:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK, flush_interval: float = 0.2,
                 batch: int = 500):
        self.db = db
        self.clock = clock
        self.flush_interval = flush_interval
        self.batch = batch
        self.seq = 0
        self.committed = 0  # the highest sequence number in the database
        self._buffer: list[dict] = []
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        async with self.db.session() as s:
            self.seq = (await s.execute(select(func.max(JournalEntry.seq)))).scalar_one() or 0
        self.committed = self.seq
        self._task = asyncio.create_task(self._flusher())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    def append(self, **fields) -> int:
        self.seq += 1
        row = {"seq": self.seq, "at": self.clock.now(), **fields}
        self._buffer.append(row)
        if len(self._buffer) >= self.batch:
            self._wake.set()
        return self.seq

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        # Shielded: a waiter cancelled mid-commit (a client gone, the flusher stopped) must not leave
        # rows committed but still counted as buffered, to be inserted twice.
        await asyncio.shield(self._flush())

    async def _flush(self) -> None:
        async with self._flush_lock:
            if not self._buffer:
                return
            rows, self._buffer = self._buffer, []
            try:
                async with self.db.session() as s:
                    await s.execute(insert(JournalEntry), rows)
                    await s.commit()
            except Exception:
                # Not written: back in front of what came since, for the next flush to try again.
                self._buffer[:0] = rows
                raise
            self.committed = rows[-1]["seq"]

    async def durable(self, seq: int) -> None:
        """Returns once entry `seq` is committed; waits for (or runs) the flush that takes it."""
        while self.committed < seq:
            await self.flush()

    async def page(self, since: int = 0, count: int = 1000) -> list[dict]:
        await self.flush()
        async with self.db.session() as s:
            q = select(JournalEntry).where(JournalEntry.seq > since).order_by(JournalEntry.seq).limit(count)
            return [entry_json(e) for e in (await s.execute(q)).scalars()]


def entry_json(e: JournalEntry) -> dict:
    out = {c: getattr(e, c) for c in table_of(JournalEntry).columns.keys()}
    if isinstance(out["at"], datetime):
        out["at"] = out["at"].isoformat()
    return out
