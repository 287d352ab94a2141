"""One async database per party: a SQLite file by default, PostgreSQL when the URL says so."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential


def normalise_url(url: str) -> str:
    """Accepts the plain scheme names users type and picks the async driver."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite:///", "sqlite+aiosqlite:///")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


class Database:
    def __init__(self, url: str, base: type[DeclarativeBase]):
        self.url = normalise_url(url)
        self.base = base
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

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
        async with self.engine.begin() as conn:
            await conn.run_sync(self.base.metadata.create_all)

    async def start(self) -> None:
        await self.wait_until_ready()
        await self.create_schema()

    async def dispose(self) -> None:
        await self.engine.dispose()

    def session(self) -> AsyncSession:
        return self.sessions()


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the one writer; NORMAL sync is safe under WAL and much faster.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
