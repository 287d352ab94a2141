"""Settings of the GP system service (environment prefix GP_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="GP_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./.testbed/gp_system.db"
    spine_url: str = "http://127.0.0.1:8001"
    broker_url: str = "http://127.0.0.1:8000"
    # Where others reach this service: the source endpoint of its messages, and the base of each
    # practice's inbox (`{public_url}/{ods}/$process-message`) the broker sends confirmations to.
    public_url: str = "http://127.0.0.1:8003"
    dedupe: bool = True

    def practice_endpoint(self, ods: str) -> str:
        return f"{self.public_url.rstrip('/')}/{ods}"
