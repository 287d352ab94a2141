"""The journal: every attempt on every link, in order, in the database of the party that carries them
(the broker; the middleware), each declaring its table with `JournalEntryMixin`.

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

from sqlalchemy import Boolean, DateTime, Float, Integer, String, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from party_common.clock import SYSTEM_CLOCK, Clock
from party_common.database import Database, table_of
from party_common.reaping import reap



class JournalEntryMixin:
    """One attempt on one link: what was sent, what the fault engine decided, what became of it."""

    __tablename__ = "journal"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    elapsed_s: Mapped[float] = mapped_column(Float)
    link: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ubrn: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    decision: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    delivered: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    purpose: Mapped[str] = mapped_column(String(16), default="delivery")   # delivery | repair
    # The message (Bundle.id) whose processing sent this one, when it was sent in line.
    origin_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class Journal:
    def __init__(self, db: Database, model: type[JournalEntryMixin], clock: Clock = SYSTEM_CLOCK,
                 flush_interval: float = 0.2, batch: int = 500):
        self.db = db
        self.model = model
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
            self.seq = (await s.execute(select(func.max(self.model.seq)))).scalar_one() or 0
        self.committed = self.seq
        self._task = asyncio.create_task(self._flusher())

    async def stop(self) -> None:
        await reap(self._task)
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
                    await s.execute(insert(self.model), rows)
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
            m = self.model
            q = select(m).where(m.seq > since).order_by(m.seq).limit(count)
            return [entry_json(e) for e in (await s.execute(q)).scalars()]


def entry_json(e: JournalEntryMixin) -> dict:
    out = {c: getattr(e, c) for c in table_of(type(e)).columns.keys()}
    if isinstance(out["at"], datetime):
        out["at"] = out["at"].isoformat()
    return out
