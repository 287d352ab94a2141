"""One async database per party: a SQLite file by default, PostgreSQL when the URL says so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Table, event, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from party_common.sqlite_inline import inline_connector

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def normalise_url(url: str) -> str:
    """Accepts the plain scheme names users type and picks the async driver."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite:///", "sqlite+aiosqlite:///")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


def table_of(model: type) -> Table:
    """The Table a declarative class maps, for Core statements. SQLAlchemy types `__table__` as any
    FromClause, since a class may map a join or a select; every class here maps one table."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} does not map a single table")
    return table


class Database:
    def __init__(self, url: str, base: type[DeclarativeBase], *, busy_timeout: float = 30.0):
        self.url = normalise_url(url)
        self.base = base
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["async_creator"] = _sqlite_creator(self.url, busy_timeout)
            if path and path != ":memory:":
                # Connections without a thread of their own are cheap to keep: a pool large enough for
                # every request in flight spares opening the file (and its pragmas) per request.
                kwargs.update(pool_size=32, max_overflow=64)
        else:
            kwargs.update(pool_size=10, max_overflow=10, connect_args=_postgres_connect_args(self.url))
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Writers that wait for its lock inside SQLite would wait in the event
        # loop's thread (see sqlite_inline); queued here they wait as coroutines and each gets the
        # lock at once. PostgreSQL locks rows, so there writers go in together.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    async def wait_until_ready(self, seconds: float = 30.0) -> None:
        # A database in a container starts after us; waiting here beats failing the first request.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(seconds), wait=wait_exponential(multiplier=0.1, max=2),
            retry=retry_if_exception_type(Exception), reraise=True,
        ):
            with attempt:
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))

    async def create_schema(self) -> None:
        async with self.write_gate():
            async with self.engine.begin() as conn:
                await conn.run_sync(self.base.metadata.create_all)

    async def start(self) -> None:
        await self.wait_until_ready()
        await self.create_schema()

    async def dispose(self) -> None:
        await self.engine.dispose()

    def session(self) -> AsyncSession:
        return self.sessions()

    @asynccontextmanager
    async def write_gate(self) -> AsyncIterator[None]:
        """Holds this process's turn to write (SQLite), for code that opens its own sessions."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for one write transaction, taken in turn on SQLite; commits if the block
        finishes, rolls back if it raises. Flush inside the block to see constraint errors there."""
        async with self.write_gate():
            async with self.sessions() as session:
                yield session
                await session.commit()


def _sqlite_creator(url: str, busy_timeout: float):
    sa_url = make_url(url)
    args, opts = SQLiteDialect_aiosqlite().create_connect_args(sa_url)
    # Every call runs in the loop's thread, but a pool may hand a connection to another loop in tests.
    opts["check_same_thread"] = False
    opts.pop("timeout", None)
    return inline_connector(*args, busy_timeout=busy_timeout, **opts)


def _postgres_connect_args(url: str) -> dict:
    sa_url = make_url(url)
    if sa_url.host in _LOCAL_HOSTS and not {"ssl", "sslmode"} & set(sa_url.query):
        # asyncpg tries TLS first by default ("prefer"); over loopback that is a wasted round trip.
        return {"ssl": False}
    return {}


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the one writer; NORMAL sync is safe under WAL and much faster.
    # No busy_timeout pragma: waiting for the lock is done outside SQLite (see sqlite_inline).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
