from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore")

    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./.testbed/booking_broker.db"
    public_url: str = "http://127.0.0.1:8000"
    spine_url: str = "http://127.0.0.1:8001"
    # A PAS service hosting several trusts under /{ODS}; the broker asks it which trusts it hosts.
    pas_url: str = "http://127.0.0.1:8002"
    # Explicit trust endpoints ({"RT1": "https://pas.example/fhir"}) win over discovery: this is how
    # a real PAS under test is put behind the broker.
    pas_endpoints: dict[str, str] = {}
    gp_url: str = "http://127.0.0.1:8003"
    gp_endpoints: dict[str, str] = {}
    dedupe: bool = True
