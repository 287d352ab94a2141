"""The settings every party has; each party subclasses with its own environment prefix."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from party_common.body_limit import DEFAULT_MAX_BODY_BYTES
from party_common.clock import DEFAULT_EPOCH, Clock, make_clock
from party_common.control_auth import CONTROL_TOKEN_ENV
from party_common.parse_offload import DEFAULT_PARSE_THREAD_BYTES, DEFAULT_PARSE_THREADS


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# A moment; one written without a zone is taken as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


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
    # system: the machine's time. virtual: time moves only when POST /clock/advance says so,
    # starting at clock_epoch (docs/clock.md).
    clock: Literal["system", "virtual"] = "system"
    clock_epoch: UtcDatetime = DEFAULT_EPOCH
    # A request body larger than this is refused (413) before it is read, so no sender can make the
    # party hold an arbitrarily large body in memory.
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, gt=0)
    # A body larger than this is parsed and validated on a worker thread, at most parse_threads at once,
    # so the event loop keeps answering meanwhile (parse_offload.py); one at or above max_body_bytes
    # parses every body on the loop.
    parse_thread_bytes: int = Field(DEFAULT_PARSE_THREAD_BYTES, ge=0)
    parse_threads: int = Field(DEFAULT_PARSE_THREADS, gt=0)
    # The bearer token control endpoints require (control_auth.py). One variable for every party,
    # not one per prefix, because the harness sends one token to all of them.
    control_token: str | None = Field(None, validation_alias=AliasChoices(CONTROL_TOKEN_ENV, "control_token"))

    def make_clock(self) -> Clock:
        return make_clock(self.clock, self.clock_epoch)
