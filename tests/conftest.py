"""Fixtures shared by every test: in-process apps, a fresh PostgreSQL database, reference files."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
# Reference material that lives beside the repository, not in it: the published BaRS spec and
# examples, and the study the scenario library quotes.
REFERENCE = Path(os.environ.get("TESTBED_REFERENCE_DIR", REPO.parent / "shared" / "reference" / "bars-1.2.0"))
STUDY = Path(os.environ.get("TESTBED_STUDY_FILE",
                            REPO.parent / "shared" / "seed" / "hendy-2007-bmj-nhs-it-programme.txt"))


def reference_missing(what: str, path: Path) -> NoReturn:
    """Skips a test that needs reference material not at hand, unless TESTBED_REQUIRE_REFERENCE=1 (as CI
    sets), where the missing material fails it: a clone away from ../shared must not pass quietly."""
    message = f"{what} not found at {path} (clone beside ../shared, or set TESTBED_REFERENCE_DIR / TESTBED_STUDY_FILE)"
    if os.environ.get("TESTBED_REQUIRE_REFERENCE") == "1":
        pytest.fail(f"TESTBED_REQUIRE_REFERENCE=1 but the {message}")
    pytest.skip(f"the {message}")


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        reference_missing("BaRS reference files", REFERENCE)
    return REFERENCE


@pytest.fixture
def study_file() -> Path:
    if not STUDY.is_file():
        reference_missing("study text", STUDY)
    return STUDY


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
