"""The settings every party has; each party subclasses with its own environment prefix."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class PartySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./.testbed/party.db"
    log_level: str = "INFO"
    # Seed of the synthetic population and calendars (not of a run's workload or faults).
    population_seed: int = 1
    population_size: int = 2000
    # Outbound calls give up after this many seconds.
    http_timeout: float = 10.0
