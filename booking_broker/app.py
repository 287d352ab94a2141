from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import capability_statement, create_party_app
from party_common.capability_searches import declare_searches
from party_common.database import Database
from party_common.fault_rules import FaultRule
from party_common.http_client import party_client
from party_common.logging_setup import configure_logging
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST, SERVICEREQUEST_RESPONSE

from booking_broker import searches
from booking_broker.routes import ROUTERS
from booking_broker.booking_flow import BookingFlow
from booking_broker.control_state import ControlState
from party_common.links.courier import Courier, LinkStats
from booking_broker.directory import Directory
from party_common.links.faults.engine import FaultEngine
from party_common.links.journal import Journal
from party_common.links.message_log import MessageLog
from booking_broker.metrics import BrokerMetrics
from booking_broker.models import Base, JournalEntry
from booking_broker.outbox import Outbox
from party_common.schema_upgrade import add_missing_columns
from booking_broker.settings import Settings

# Every event the broker's inbox takes from a practice (or a trust's own referral answer), it also
# sends on: to the trust, back to the practice and, for bookings, to the spine's index.
EVENTS = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST, SERVICEREQUEST_RESPONSE)


def broker_capability(base: str) -> dict:
    # What each search honours is declared from the spec its route parses with.
    return declare_searches(capability_statement(
        "booking broker",
        [
            {"type": "HealthcareService", "interactions": ["read", "search-type"]},
            {"type": "Slot", "interactions": ["read", "search-type"]},
            {"type": "Schedule", "interactions": ["read"]},
            {"type": "Appointment", "interactions": ["read", "search-type"]},
            {"type": "ServiceRequest", "interactions": ["read", "search-type"]},
        ],
        ["process-message"],
        base=base, description="booking broker: routes practices' BaRS bookings and referrals to trusts",
        receives=EVENTS, sends=EVENTS,
    ), searches.ALL)


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    clock = settings.make_clock()
    engine = FaultEngine(settings.fault_seed, clock)
    engine.configure(settings.fault_seed, [FaultRule.model_validate(r) for r in settings.faults])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = Database(settings.database_url, Base)
        await db.start()
        await add_missing_columns(db)
        client = party_client(transport, settings.http_timeout, clock)
        stats, metrics = LinkStats(), BrokerMetrics()
        journal = Journal(db, JournalEntry, clock)
        await journal.start()
        courier = Courier(client, stats, engine, journal, metrics, faults_enabled=settings.fault_engine,
                          messages=MessageLog(settings.message_log_bytes))
        outbox = Outbox(db, courier, metrics, clock, max_backoff=settings.outbox_max_backoff_s)
        directory = Directory(settings, courier)
        flow = BookingFlow(settings, db, courier, directory, outbox, clock)
        control = ControlState(db)
        # What was set over HTTP before a restart wins over the start-up settings.
        flow.delivery = await control.restore(engine) or flow.delivery
        app.state.control = control
        app.state.db, app.state.stats, app.state.metrics = db, stats, metrics
        app.state.courier, app.state.journal, app.state.outbox = courier, journal, outbox
        app.state.directory, app.state.flow, app.state.engine = directory, flow, engine
        clock.watch(lambda: outbox.busy or courier.releasing)
        await outbox.start()
        try:
            yield
        finally:
            await outbox.stop()
            courier.cancel_timers()
            await courier.release()
            await journal.stop()
            await client.aclose()
            await db.dispose()

    app = create_party_app("booking_broker", broker_capability(settings.public_url), lifespan=lifespan, clock=clock,
                           proxy=True, require_trace_headers=settings.require_trace_headers)
    app.state.settings = settings
    app.state.transport = transport   # what the broker's clients call through (a replay's courier too)
    for router in ROUTERS:
        app.include_router(router)
    return app
