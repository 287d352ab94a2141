"""Fixtures of the trust PAS tests: an app on a fresh database, on SQLite or PostgreSQL."""

from __future__ import annotations

import pytest

from tests.inprocess import client_for

from .helpers import make_app


@pytest.fixture
async def pas(sqlite_url):
    async with client_for(make_app(sqlite_url)) as client:
        yield client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """The same test on SQLite and on PostgreSQL (the `postgres_url` fixture; skipped without a server)."""
    return request.getfixturevalue(f"{request.param}_url")
