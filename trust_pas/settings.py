"""Settings of the trust PAS service (environment prefix `PAS_`)."""

from __future__ import annotations

from datetime import date

from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings
from party_common.site_behaviour import SiteBehaviour


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="PAS_", extra="ignore")

    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./.testbed/trust_pas.db"
    # Off only to study what a receiver without reliable-messaging dedupe does with repeats.
    dedupe: bool = True
    # First day of every clinic calendar (a Monday, so weeks line up) and how far ahead it runs.
    calendar_start: date = date(2027, 1, 4)
    horizon_days: int = 182
    # The trust catalogue as JSON (see party_common/trusts/catalogue.py for the shape); None = the built-in one.
    trusts: list[dict] | None = None
    # Per-site behaviour ({"RT102": {"unavailable": 0.4, "delay_ms": 50}}; trust_pas/site_behaviour.py).
    sites: dict[str, SiteBehaviour] = {}
    # Base URL this service is reached at, for MessageHeader.source.endpoint of its responses.
    public_url: str | None = None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
