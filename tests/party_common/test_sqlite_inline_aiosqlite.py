"""What party_common/sqlite_inline.py assumes of aiosqlite's private internals, checked against the
installed aiosqlite, so a release that moves them fails here, by name, rather than as a hang or an
AttributeError deep in a party.

InlineConnection subclasses aiosqlite.Connection without calling its __init__ (which builds the
worker thread), sets the attributes that __init__ would, and overrides every method that reaches the
worker: the queue (`_tx`) or the thread (`_thread`). SQLAlchemy's aiosqlite dialect also puts
`(future, function)` items on `_tx` itself (to set the isolation level).
"""

from __future__ import annotations

import inspect
import re
import threading

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase

from party_common.database import Database
from party_common.sqlite_inline import InlineConnection

REREAD = ("party_common/sqlite_inline.py relies on aiosqlite's private internals; re-read "
          f"aiosqlite {aiosqlite.__version__}'s Connection and Cursor, update sqlite_inline.py to match, "
          "then widen the aiosqlite bound in pyproject.toml and constraints.txt")


def _version(text_version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text_version)[:2])


def test_aiosqlite_is_the_line_sqlite_inline_was_written_for():
    assert (0, 22) <= _version(aiosqlite.__version__) < (0, 23), REREAD


def test_connection_is_no_thread():
    # Before 0.22 Connection was a Thread subclass: skipping its __init__ would leave a broken Thread.
    assert not issubclass(aiosqlite.Connection, threading.Thread), REREAD


def test_inline_connection_sets_what_aiosqlite_init_sets():
    real = aiosqlite.Connection(lambda: None, 64)
    inline = InlineConnection(lambda: None, busy_timeout=1.0)
    expected = set(vars(real)) - {"_thread"}  # the worker thread is what InlineConnection does without
    assert expected == set(vars(inline)) - {"_busy_timeout"}, REREAD


def test_every_method_reaching_the_worker_is_overridden():
    reaching = {name for name, member in vars(aiosqlite.Connection).items()
                if inspect.isfunction(member) and re.search(r"\._(tx|thread)\b", inspect.getsource(member))}
    assert reaching, REREAD  # the worker is still reached somewhere, by these names
    missed = reaching - set(vars(InlineConnection))
    assert not missed, f"{REREAD}: not overridden: {sorted(missed)}"


def test_cursor_reaches_the_connection_only_through_execute():
    used = set(re.findall(r"\b_?conn\.(\w+)", inspect.getsource(aiosqlite.Cursor)))
    assert "_execute" in used, REREAD
    assert used <= {"_execute", "_iter_chunk_size"}, f"{REREAD}: Cursor uses {sorted(used)}"
    assert "_execute" in vars(InlineConnection)


def test_execute_takes_a_function_and_its_arguments():
    params = list(inspect.signature(aiosqlite.Connection._execute).parameters)
    assert params == ["self", "fn", "args", "kwargs"], REREAD


class _Base(DeclarativeBase):
    pass


async def test_statements_run_on_the_event_loop_thread_through_sqlalchemy(tmp_path):
    """The behaviour the module exists for, through the dialect's real path: the isolation level
    SQLAlchemy sets by putting an item on `_tx`, then statements, all in this thread and no other."""
    db = Database(f"sqlite:///{tmp_path / 'inline.db'}", _Base)
    threads_before = {t.ident for t in threading.enumerate()}
    try:
        async with db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            assert (await autocommit.execute(text("SELECT 41 + 1"))).scalar_one() == 42
            raw = await conn.get_raw_connection()
            inline = raw.driver_connection
            assert isinstance(inline, InlineConnection), REREAD
            assert await inline._execute(threading.get_ident) == threading.get_ident(), REREAD
        assert {t.ident for t in threading.enumerate()} <= threads_before, "a worker thread was started"
    finally:
        await db.dispose()


async def test_a_closed_connection_refuses_work(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'closed.db'}", _Base)
    try:
        async with db.engine.connect() as conn:
            inline = (await conn.get_raw_connection()).driver_connection
            assert isinstance(inline, InlineConnection)
        inline.stop()
        with pytest.raises(ValueError, match="Connection closed"):
            await inline._execute(lambda: None)
    finally:
        await db.dispose()
