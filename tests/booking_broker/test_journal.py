"""The journal's group commit: an attempt's entry is in the database before anything acts on it."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select

from party_common.links.journal import Journal
from booking_broker.models import Base, JournalEntry
from party_common.database import Database


async def _journal(tmp_path, **kwargs) -> tuple[Database, Journal]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/j.db", Base)
    await db.start()
    journal = Journal(db, JournalEntry, flush_interval=3600, **kwargs)  # no timed flush: only `durable` writes
    await journal.start()
    return db, journal


def _entry(i: int) -> dict:
    return {"elapsed_s": 0.0, "link": "broker->pas:RT1", "event": "booking-request", "message_id": f"m{i}",
            "decision": "pass", "outcome": "delivered", "delivered": True, "attempt": 1, "purpose": "delivery",
            "latency_ms": 1.0}


async def _rows(db: Database) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(JournalEntry))).scalar_one()


async def test_durable_returns_only_once_the_entry_is_in_the_database(tmp_path):
    db, journal = await _journal(tmp_path)
    try:
        seq = journal.append(**_entry(1))
        assert await _rows(db) == 0 and journal.committed == 0
        await journal.durable(seq)
        assert await _rows(db) == 1 and journal.committed == seq
    finally:
        await journal.stop()
        await db.dispose()


async def test_concurrent_attempts_share_commits(tmp_path):
    db, journal = await _journal(tmp_path)
    commits = []
    event.listen(db.engine.sync_engine, "commit", lambda conn: commits.append(1))
    try:
        async def attempt(i: int) -> None:
            seq = journal.append(**_entry(i))
            await asyncio.sleep(0)
            await journal.durable(seq)
            assert journal.committed >= seq

        await asyncio.gather(*(attempt(i) for i in range(200)))
        assert await _rows(db) == 200
        assert len(commits) < 50, len(commits)  # grouped, not one transaction per attempt
    finally:
        await journal.stop()
        await db.dispose()


async def test_a_waiter_cancelled_mid_flush_neither_loses_nor_doubles_entries(tmp_path):
    db, journal = await _journal(tmp_path)
    try:
        seqs = [journal.append(**_entry(i)) for i in range(20)]
        waiter = asyncio.create_task(journal.durable(seqs[-1]))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        more = journal.append(**_entry(99))
        await journal.durable(more)
        async with db.session() as s:
            written = (await s.execute(select(JournalEntry.seq).order_by(JournalEntry.seq))).scalars().all()
        assert written == [*seqs, more]
    finally:
        await journal.stop()
        await db.dispose()


async def test_after_a_restart_numbering_goes_on_from_what_was_committed(tmp_path):
    db, journal = await _journal(tmp_path)
    await journal.durable(journal.append(**_entry(1)))
    journal.append(**_entry(2))  # handed out, never committed: as if the process died here
    journal._task.cancel()
    await db.dispose()
    db2, again = await _journal(tmp_path)
    try:
        assert again.committed == 1 and again.append(**_entry(3)) == 2
    finally:
        await again.stop()
        await db2.dispose()
