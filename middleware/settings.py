"""Settings of the middleware (environment prefix `MIDDLEWARE_`; docs/legacy-pas.md)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings

QueueMode = Literal["memory", "persistent"]


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="MIDDLEWARE_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./.testbed/middleware.db"
    # Base URL this service is reached at, for MessageHeader.source.endpoint and the root's endpoints.
    public_url: str | None = None
    # The trusts it stands for, as JSON in the shape of PAS_TRUSTS (party_common/trusts/catalogue.py).
    trusts: list[dict] = []
    calendar_start: date = date(2027, 1, 4)
    horizon_days: int = 182
    # Where each trust's legacy PAS listens for MLLP: {"RLG1": "127.0.0.1:2575"}.
    pas_mllp: dict[str, str] = {}
    spine_url: str = "http://127.0.0.1:8001"
    # memory: what is queued is lost when the engine restarts; persistent: store and forward.
    queue: QueueMode = "memory"
    # Look the patient up at the spine before forwarding a booking or referral.
    spine_lookup: bool = True
    # After this many consecutive failed spine look-ups the engine restarts (0: never).
    crash_after_spine_failures: int = Field(0, ge=0)
    # The engine restarts when a message queued makes the queue this deep (0: never): out of memory
    # as messages back up behind a slow PAS.
    crash_at_queue_depth: int = Field(0, ge=0)
    # How long a restart takes, on the party's clock; it answers 503 meanwhile.
    restart_s: float = Field(30.0, ge=0)
    # How long a message waits in the queue before its spine look-up is tried again.
    spine_retry_s: float = Field(5.0, gt=0)
    # How long it waits for the PAS's ACK, and how many times it sends a message again after the first.
    ack_timeout_s: float = Field(10.0, gt=0)
    resends: int = Field(3, ge=0)
    fault_seed: int = 0
    # Fault rules to load at start, as JSON ([{"link": "middleware->pas:*", "action": "drop", ...}]).
    faults: list[dict] = []

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
