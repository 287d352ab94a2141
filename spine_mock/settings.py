"""Spine settings, read from SPINE_* environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="SPINE_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///./.testbed/spine_mock.db"
    # Reliable-messaging dedupe of $process-message; off only to study what duplicates do.
    dedupe: bool = True
    # Where the spine says it is in the response messages it sends; derived from host and port if empty.
    public_url: str = ""

    @property
    def endpoint(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
