from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings

from party_common.links.message_log import DEFAULT_LIMIT_BYTES


# How the broker delivers (the `delivery` setting, and POST /delivery).
DeliveryModeName = Literal["fire-and-forget", "reliable"]


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
    # More roots listing trusts under /{ODS} as pas_url does (BROKER_TRUST_ROOTS, a JSON list): the
    # middleware standing for legacy trusts (docs/legacy-pas.md).
    trust_roots: list[str] = []
    gp_url: str = "http://127.0.0.1:8003"
    gp_endpoints: dict[str, str] = {}
    dedupe: bool = True
    # fire-and-forget: one attempt per message, the ledger says booked whatever happened (2006).
    # reliable: transactional outbox, retries with backoff, receivers deduplicate.
    delivery: DeliveryModeName = "fire-and-forget"
    # Seed of the fault engine's decisions (a scenario or `testbed run --seed` sets it).
    fault_seed: int = 0
    # Reliable delivery gives up on a synchronous step (UBRN allocation) after this long.
    reliable_wait_s: float = 30.0
    # The outbox's longest wait between two attempts at a message. 2 s suits outages of seconds on
    # the machine's clock; a scenario with outages of minutes on a virtual clock backs off further,
    # as a real integration engine would, rather than knocking every two simulated seconds.
    outbox_max_backoff_s: float = Field(2.0, gt=0)
    # false takes the fault engine out of the message path altogether (to measure what it costs).
    fault_engine: bool = True
    # The bodies of carried messages kept in memory for run folders (replay), at most this many bytes;
    # the oldest roll off first.
    message_log_bytes: int = Field(DEFAULT_LIMIT_BYTES, gt=0)
    # Fault rules to load at start, as JSON ([{"link": "broker->pas:*", "action": "drop", ...}]).
    faults: list[dict] = []
    # BaRS: X-Request-ID and X-Correlation-ID (UUIDs) on every FHIR request to the proxy, else 400
    # SEND_BAD_REQUEST. false lets hand-made calls (curl) in without them, and generates them.
    require_trace_headers: bool = True
