"""Fixtures shared by every test: in-process apps, a fresh PostgreSQL database, reference files."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path(os.environ.get("TESTBED_REFERENCE_DIR", REPO.parent / "shared" / "reference" / "bars-1.2.0"))


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"BaRS reference files not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/party.db"


def _postgres_server_url() -> str | None:
    return os.environ.get("TESTBED_TEST_POSTGRES_URL")


@pytest.fixture
async def postgres_url():
    """A freshly created PostgreSQL database, dropped afterwards.

    Skipped when no server is configured, unless TESTBED_REQUIRE_POSTGRES=1 (as CI sets), where a
    missing server is a failure rather than a silent skip.
    """
    server = _postgres_server_url()
    if not server:
        if os.environ.get("TESTBED_REQUIRE_POSTGRES") == "1":
            pytest.fail("TESTBED_REQUIRE_POSTGRES=1 but TESTBED_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server: set TESTBED_TEST_POSTGRES_URL")
    import asyncpg

    plain = server.replace("postgresql+asyncpg://", "postgresql://")
    name = f"tb_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
