"""A booking costs each party's database the same work however many bookings it already holds
(issue 13 item 11: bookings/s fell round after round as state grew).

Work is counted, not timed: SQLite calls a progress handler every few virtual-machine instructions,
so a statement that walks rows (a scan, or an index used on a prefix that matches every booking of a
practice or a trust) costs instructions in proportion to the rows it walks, on a loaded machine as on
a quiet one. The stack makes bookings, stops, and every table that grew is copied out to many times
its rows (keys made unique by a suffix, everything else, the practices, trusts, services and slot
minutes among it, kept), so the same code then books against a large state without the minutes a
thousand real bookings take.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from harness.run.workload import Workload, discover
from tests.stack_inprocess import inprocess_stack

STEP = 10          # instructions between progress-handler calls
COPIES = 60        # each grown table ends up with about this many times its rows
PARTIES = ("broker", "gp", "pas", "spine")


class SqliteWork:
    """Instructions SQLite ran, per party database and per statement, while installed."""

    def __init__(self):
        self.by_party: Counter[str] = Counter()
        self.by_statement: Counter[tuple[str, str]] = Counter()
        self._started: dict[int, tuple[str, int]] = {}

    def on_connect(self, dbapi_conn, record) -> None:
        raw: sqlite3.Connection = dbapi_conn._connection._connection   # SQLAlchemy adapter -> aiosqlite -> sqlite3
        party = Path(raw.execute("PRAGMA database_list").fetchone()[2]).stem

        def tick() -> int:
            self.by_party[party] += STEP
            return 0
        raw.set_progress_handler(tick, STEP)
        record.info["party"] = party

    def before(self, conn, _cursor, statement, *_args) -> None:
        party = conn.connection.info.get("party")
        if party:
            self._started[id(conn)] = (party, self.by_party[party])

    def after(self, conn, _cursor, statement, *_args) -> None:
        started = self._started.pop(id(conn), None)
        if started:
            party, at = started
            self.by_statement[(party, statement)] += self.by_party[party] - at

    def __enter__(self) -> "SqliteWork":
        event.listen(Pool, "connect", self.on_connect)
        event.listen(Engine, "before_cursor_execute", self.before)
        event.listen(Engine, "after_cursor_execute", self.after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(Pool, "connect", self.on_connect)
        event.remove(Engine, "before_cursor_execute", self.before)
        event.remove(Engine, "after_cursor_execute", self.after)


def row_counts(tmp: Path) -> dict[tuple[str, str], int]:
    counts = {}
    for party in PARTIES:
        with sqlite3.connect(tmp / f"{party}.db") as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
                counts[(party, table)] = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return counts


def copy_rows(db_path: Path, table: str, copies: int) -> None:
    """Adds `copies` copies of every row; in each unique key the last column gets a suffix, and an
    integer primary key (a rowid) is left for SQLite to number."""
    with sqlite3.connect(db_path) as db:
        columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()   # cid, name, type, notnull, default, pk
        keys = [[c[1] for c in sorted((c for c in columns if c[5]), key=lambda c: c[5])]]
        for index in db.execute(f'PRAGMA index_list("{table}")').fetchall():   # seq, name, unique, origin, partial
            if index[2]:
                keys.append([r[2] for r in db.execute(f'PRAGMA index_info("{index[1]}")')])
        types = {c[1]: c[2].upper() for c in columns}
        rowid = keys[0][0] if len(keys[0]) == 1 and types[keys[0][0]] == "INTEGER" else None
        suffixed = {key[-1] for key in keys if key and key[-1] != rowid}
        names = [c[1] for c in columns if c[1] != rowid]
        cols = ", ".join(f'"{c}"' for c in names)
        db.execute(f'CREATE TEMP TABLE original AS SELECT {cols} FROM "{table}"')
        for n in range(copies):
            values = ", ".join(f'"{c}" || \'~{n}\'' if c in suffixed else f'"{c}"' for c in names)
            db.execute(f'INSERT INTO "{table}" ({cols}) SELECT {values} FROM original')


async def _book(urls, client, population, salt: str, count: int, offset: int) -> None:
    workload = Workload(urls, population, seed=5, bookings=count, concurrency=1, id_salt=salt)
    plan = workload.plan
    workload.plan = lambda i: plan(i + offset)
    results = await workload.run(client)
    assert [r.outcome for r in results] == ["accepted"] * count, [r.detail for r in results if r.outcome != "accepted"]


async def _measure(work: SqliteWork, urls, client, population, salt: str, offset: int, count: int):
    await _book(urls, client, population, f"{salt}-warm", 5, offset)   # first calls fill caches, open connections
    parties, statements = Counter(work.by_party), Counter(work.by_statement)
    await _book(urls, client, population, salt, count, offset + 5)
    return ({p: (work.by_party[p] - parties[p]) / count for p in PARTIES},
            {k: (v - statements[k]) / count for k, v in work.by_statement.items()})


async def test_a_booking_does_no_more_database_work_when_a_thousand_bookings_exist(tmp_path):
    count = 12
    with SqliteWork() as work:
        async with inprocess_stack(tmp_path, population_size=200) as (urls, client, _apps):
            population = await discover(client, urls)
            before = row_counts(tmp_path)
            small, small_statements = await _measure(work, urls, client, population, "small", 0, count)
        grown = [key for key, n in row_counts(tmp_path).items() if n > before[key]]
        for party, table in grown:
            copy_rows(tmp_path / f"{party}.db", table, COPIES)
        sizes = row_counts(tmp_path)
        assert sizes[("gp", "bookings")] > 1000 and sizes[("pas", "processed_messages")] > 1000
        async with inprocess_stack(tmp_path, population_size=200) as (urls, client, _apps):
            large, large_statements = await _measure(work, urls, client, population, "large", 100, count)

    grew = sorted(((large_statements.get(k, 0) - small_statements.get(k, 0), k) for k in large_statements),
                  reverse=True)[:3]
    report = "; ".join(f"{party} +{d:.0f}: {sql[:160]!r}" for d, (party, sql) in grew)
    for party in PARTIES:
        # Index lookups deepen by a level at most; a walk over the grown tables is 60 times longer.
        assert large[party] <= 1.5 * small[party], (
            f"{party}: {small[party]:.0f} SQLite instructions a booking, {large[party]:.0f} with {COPIES} times "
            f"the bookings; most grown: {report}")
