"""One write transaction at a time on SQLite, queued in the event loop.

SQLite has a single writer. Concurrent write transactions on separate connections wait for its
lock in SQLite's busy handler, which sleeps and polls; under load most of a request's time went
there. Queuing the writers on an asyncio lock instead hands the database straight to the next one.
PostgreSQL locks rows, so there the gate is open.
"""

from __future__ import annotations

import asyncio


class WriteGate:
    def __init__(self, serialise: bool):
        self._lock = asyncio.Lock() if serialise else None

    async def __aenter__(self) -> None:
        if self._lock is not None:
            await self._lock.acquire()

    async def __aexit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()
