"""Database: write transactions taken in turn on SQLite, SQLite calls run in the loop's thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from party_common.database import Database, _postgres_connect_args

from .conftest import Base, Note, count_notes



async def test_writing_commits_when_the_block_ends(db):
    async with db.writing() as session:
        await session.execute(insert(Note), {"id": "1", "text": "kept"})
    assert await count_notes(db) == 1


async def test_writing_rolls_back_when_the_block_raises(db):
    with pytest.raises(RuntimeError):
        async with db.writing() as session:
            await session.execute(insert(Note), {"id": "1", "text": "dropped"})
            raise RuntimeError("refused")
    assert await count_notes(db) == 0


async def _most_inside_at_once(db: Database) -> int:
    inside, most = 0, 0

    async def writer():
        nonlocal inside, most
        async with db.write_gate():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*[writer() for _ in range(5)])
    return most


async def test_write_gate_serialises_on_sqlite_only(sqlite_url):
    sqlite_db = Database(sqlite_url, Base)
    # No server is needed: the gate is decided by the URL, and nothing here connects.
    postgres_db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none", Base)
    try:
        assert await _most_inside_at_once(sqlite_db) == 1
        assert await _most_inside_at_once(postgres_db) == 5
    finally:
        await sqlite_db.dispose()
        await postgres_db.dispose()


async def test_sqlite_runs_without_worker_threads(sqlite_url):
    db = Database(sqlite_url, Base)
    before = threading.active_count()
    try:
        await db.start()
        for i in range(20):
            async with db.writing() as session:
                await session.execute(insert(Note), {"id": str(i), "text": "x"})
        assert await count_notes(db) == 20
        # aiosqlite would have started a thread per pooled connection.
        assert threading.active_count() == before
    finally:
        await db.dispose()


async def test_a_writer_waits_for_a_lock_held_across_an_await_without_blocking_the_loop(sqlite_url):
    # The holder keeps its transaction open while it awaits; a second writer that skips the gate must
    # wait as a coroutine (the loop keeps running, so the holder can finish), then go through.
    db = Database(sqlite_url, Base, busy_timeout=5)
    await db.start()
    ticks = 0
    holding = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def holder():
        async with db.session() as session:
            await session.execute(insert(Note), {"id": "holder", "text": "first"})
            holding.set()
            await asyncio.sleep(0.2)
            await session.commit()

    async def second():
        await holding.wait()
        started = time.monotonic()
        async with db.session() as session:
            await session.execute(insert(Note), {"id": "second", "text": "after"})
            await session.commit()
        return time.monotonic() - started

    tick_task = asyncio.create_task(ticker())
    try:
        _, waited = await asyncio.wait_for(asyncio.gather(holder(), second()), timeout=10)
        tick_task.cancel()
        assert await count_notes(db) == 2
        assert waited >= 0.1
        assert ticks >= 10, "the event loop stood still while the second writer waited"
    finally:
        await db.dispose()


async def test_a_lock_held_past_the_busy_timeout_is_an_error(sqlite_url):
    db = Database(sqlite_url, Base, busy_timeout=0.2)
    await db.start()
    # Another process's writer, as far as this database can tell: a plain connection of its own.
    path = sqlite_url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            async with db.writing() as session:
                await session.execute(insert(Note), {"id": "1", "text": "x"})
        assert 0.2 <= time.monotonic() - started < 5
    finally:
        other.execute("ROLLBACK")
        other.close()
        await db.dispose()


def test_local_postgres_skips_tls_unless_asked():
    assert _postgres_connect_args("postgresql+asyncpg://u:p@127.0.0.1:5432/db") == {"ssl": False}
    assert _postgres_connect_args("postgresql+asyncpg://u:p@localhost/db") == {"ssl": False}
    assert _postgres_connect_args("postgresql+asyncpg://u:p@localhost/db?ssl=require") == {}
    assert _postgres_connect_args("postgresql+asyncpg://u:p@db.example.net/db") == {}
