"""Wiring: settings from SPINE_* variables, and the SQLite write gate."""

from __future__ import annotations

import asyncio

from spine_mock.settings import Settings
from spine_mock.write_gate import WriteGate


def test_settings_read_spine_environment(monkeypatch):
    monkeypatch.setenv("SPINE_PORT", "9101")
    monkeypatch.setenv("SPINE_POPULATION_SIZE", "42")
    monkeypatch.setenv("SPINE_DEDUPE", "false")
    monkeypatch.setenv("PORT", "1")
    settings = Settings()
    assert (settings.port, settings.population_size, settings.dedupe) == (9101, 42, False)
    assert settings.endpoint == "http://127.0.0.1:9101"


def test_defaults(monkeypatch):
    for name in ("SPINE_PORT", "SPINE_DATABASE_URL", "SPINE_DEDUPE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.port == 8001
    assert settings.database_url.endswith("spine_mock.db")
    assert settings.dedupe is True


async def _overlap(gate: WriteGate) -> int:
    inside, most = 0, 0

    async def writer():
        nonlocal inside, most
        async with gate:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*[writer() for _ in range(5)])
    return most


async def test_write_gate_serialises_on_sqlite_only():
    assert await _overlap(WriteGate(serialise=True)) == 1
    assert await _overlap(WriteGate(serialise=False)) == 5
