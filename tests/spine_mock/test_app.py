"""Wiring: settings from SPINE_* variables (the SQLite write gate is tested with Database)."""

from __future__ import annotations

from spine_mock.settings import Settings


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
