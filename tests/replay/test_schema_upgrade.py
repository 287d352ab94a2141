"""A broker database from before the journal had origin_id gains the column and keeps its rows."""

from __future__ import annotations

import sqlite3

from booking_broker.models import Base
from party_common.schema_upgrade import add_missing_columns
from party_common.database import Database


async def test_an_old_journal_table_gains_origin_id(tmp_path):
    path = tmp_path / "broker.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, at TIMESTAMP, elapsed_s FLOAT, link VARCHAR(64),"
                    " event VARCHAR(64), message_id VARCHAR(64), bundle_id VARCHAR(64), ubrn VARCHAR(12),"
                    " decision VARCHAR(32), rule_id VARCHAR(32), outcome VARCHAR(16), delivered BOOLEAN,"
                    " status INTEGER, latency_ms FLOAT, attempt INTEGER, purpose VARCHAR(16))")
        old.execute("INSERT INTO journal (seq, link, event, decision, outcome, delivered, latency_ms)"
                    " VALUES (1, 'broker->spine', 'allocate-ubrn', 'pass', 'delivered', 1, 1.0)")
    db = Database(f"sqlite:///{path}", Base)
    await db.start()
    try:
        assert await add_missing_columns(db) == ["journal.origin_id"]
        assert await add_missing_columns(db) == []
    finally:
        await db.dispose()
    with sqlite3.connect(path) as upgraded:
        assert upgraded.execute("SELECT seq, origin_id FROM journal").fetchall() == [(1, None)]


async def test_the_same_on_postgresql(postgres_url):
    from sqlalchemy import text

    db = Database(postgres_url, Base)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE journal (seq INTEGER PRIMARY KEY, link VARCHAR(64))"))
        await db.start()    # creates the other tables; the old journal stays as it was
        added = await add_missing_columns(db)
        assert "journal.origin_id" in added
        async with db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO journal (seq, link, origin_id) VALUES (1, 'x', 'o')"))
    finally:
        await db.dispose()
