"""aiosqlite connections that run each SQLite call in the event loop's own thread.

aiosqlite gives every connection a worker thread and sends each call there and back: a queue put,
a thread switch and a wake-up of the loop through its self-pipe, several times per statement. For
the statements a party runs (indexed lookups and single-row writes on a local file in WAL mode,
tens of microseconds each) that hop cost more than the work, and with the GIL the thread bought no
parallelism. These connections keep aiosqlite's interface, so SQLAlchemy's aiosqlite dialect drives
them unchanged, but run each call inline.

Waiting for the write lock is the one thing that must not happen inline: the holder may be a
coroutine of this same loop (SQLAlchemy closes a session, and so rolls back a failed transaction,
in a task of its own), which a blocked loop would never run. So SQLite's own busy handler is off
(timeout 0) and a call refused with SQLITE_BUSY sleeps as a coroutine and tries again, until the
busy timeout is spent.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import aiosqlite

SQLITE_BUSY = 5
# Pauses between tries while another connection holds the lock: the first try again goes as soon as
# the loop has run what was ready (often the holder finishing), later ones back off.
_BACKOFF = (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)


class _InlineQueue:
    """Stands in for aiosqlite's queue to its worker thread: runs each item as it is put.

    SQLAlchemy's dialect puts a call on the queue directly to set the isolation level.
    """

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    # aiosqlite's __init__ builds the worker thread; everything else it sets is set here.
    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_timeout: float,
                 iter_chunk_size: int = 64):
        self._running = True
        self._connection: sqlite3.Connection | None = None
        self._connector = connector
        # Not the SimpleQueue aiosqlite declares: anything with its put_nowait will do.
        self._tx = _InlineQueue()  # type: ignore[assignment]
        self._iter_chunk_size = iter_chunk_size
        self._busy_timeout = busy_timeout

    def __del__(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != SQLITE_BUSY:
                raise
        # Only plain SQLITE_BUSY is worth waiting out: a stale snapshot (SQLITE_BUSY_SNAPSHOT) stays
        # stale, and the statement that was refused changed nothing, so it can simply run again.
        deadline = time.monotonic() + self._busy_timeout
        attempt = 0
        while True:
            await asyncio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
            attempt += 1
            if self._connection is None:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != SQLITE_BUSY or time.monotonic() >= deadline:
                    raise

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None

    async def close(self) -> None:
        self.stop()


def inline_connector(database: str, *, busy_timeout: float = 30.0, **kwargs: Any) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: opens `database` with sqlite3.connect(**kwargs)."""
    kwargs["timeout"] = 0  # waiting for the lock is done by InlineConnection, never inside SQLite

    async def connect() -> InlineConnection:
        return await InlineConnection(lambda: sqlite3.connect(database, **kwargs), busy_timeout)

    return connect
