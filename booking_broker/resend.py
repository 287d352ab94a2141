"""Recorded messages sent again, each with the decision it got in the recording (`testbed replay
RUN --ubrn U`, through `POST /faults/replay/messages`).

A courier of its own carries them: its own fault engine (the recording's rules and seed, and the
recorded decisions as a script keyed by message), its own journal in a scratch database, its own
link counts and metrics. So a replay of one booking neither reads nor changes the broker's fault
plan, journal or counts, and the journal it answers holds that booking's messages only.

Its engine keeps the machine's time whatever the broker's clock: a replayed delay lasts as long as
the recorded one did, with nobody advancing a virtual clock for it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from party_common.database import Database
from party_common.fault_rules import FaultRule
from party_common.http_client import party_client

from party_common.links.courier import ORIGIN, Courier, LinkStats
from party_common.links.faults.engine import FaultEngine
from party_common.links.journal import Journal
from booking_broker.metrics import BrokerMetrics
from booking_broker.models import Base, JournalEntry


@dataclass
class Resend:
    """One message as the broker sent it, to send again (the URL may be another system's now)."""

    link: str
    event: str
    method: str
    url: str
    body: dict | None
    ubrn: str | None = None
    origin_id: str | None = None
    attempt: int = 1
    purpose: str = "delivery"


def scripted_engine(seed: int, rules: list[FaultRule], decisions: list[dict]) -> FaultEngine:
    """An engine that decides each scripted message as recorded and passes every other; raises
    RuleError for a decision naming no rule."""
    engine = FaultEngine(seed)
    engine.configure(seed, rules)
    engine.load_script(decisions)
    return engine


async def resend(messages: list[Resend], engine: FaultEngine, transport: httpx.AsyncBaseTransport | None,
                 timeout: float) -> list[dict]:
    """Sends the messages in order through a courier of their own; returns its journal."""
    with tempfile.TemporaryDirectory(prefix="broker-resend-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'journal.db'}", Base)
        await db.start()
        journal = Journal(db, JournalEntry)
        await journal.start()
        client = party_client(transport, timeout)
        courier = Courier(client, LinkStats(), engine, journal, BrokerMetrics())
        try:
            for m in messages:
                token = ORIGIN.set(m.origin_id)
                try:
                    await courier.send(m.link, m.event, m.method, m.url, m.body, ubrn=m.ubrn, attempt=m.attempt,
                                       purpose=m.purpose)
                finally:
                    ORIGIN.reset(token)
            await courier.release()
            return await journal.page(0, 100_000)
        finally:
            await journal.stop()
            await client.aclose()
            await db.dispose()
