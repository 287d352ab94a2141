"""A small schema of our own for the shared database and inbox tests."""

from __future__ import annotations

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.database import Database
from party_common.inbox import ProcessedMessageMixin


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """The same test on SQLite and on PostgreSQL (skipped without a server)."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def db(db_url):
    database = Database(db_url, Base)
    await database.start()
    yield database
    await database.dispose()


async def count_notes(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(Note))).scalar_one()
