"""The middleware application: `uvicorn --factory middleware.app:create_app` (port 8004)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware

from party_common.app_factory import create_party_app
from party_common.booking import trust_org
from party_common.fault_rules import FaultRule
from party_common.lifespan import party_resources
from party_common.links.courier import Courier, LinkStats
from party_common.links.faults.engine import FaultEngine
from party_common.links.journal import Journal
from party_common.links.metrics import LinkMetrics
from party_common.logging_setup import configure_logging
from party_common.trusts.catalogue import build_catalogue

from middleware.booking_flow import make_handlers
from middleware.capability import root_capability, trust_capability
from middleware.forwarder import Forwarder
from middleware.models import Base, JournalEntry, ProcessedMessage
from middleware.queue import MemoryQueue, PersistentQueue
from middleware.restart_gate import RestartGate
from middleware.routes import ROUTERS
from middleware.settings import Settings
from party_common.trusts.inbox import TrustInbox


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    # Built before serving so bad MIDDLEWARE_TRUSTS stop the start instead of the first request.
    catalogue = build_catalogue(settings.trusts, settings.calendar_start, settings.horizon_days)
    unknown = sorted(set(settings.pas_mllp) - set(catalogue.trusts))
    if unknown:
        raise ValueError(f"MIDDLEWARE_PAS_MLLP names trusts not in MIDDLEWARE_TRUSTS: {', '.join(unknown)}")
    clock = settings.make_clock()
    engine = FaultEngine(settings.fault_seed, clock)
    engine.configure(settings.fault_seed, [FaultRule.model_validate(r) for r in settings.faults])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with party_resources(app, settings, Base, transport) as (db, http):
            stats, metrics = LinkStats(), LinkMetrics()
            journal = Journal(db, JournalEntry, clock)
            await journal.start()
            courier = Courier(http, stats, engine, journal, metrics)
            queue = PersistentQueue(db) if settings.queue == "persistent" else MemoryQueue()
            forwarder = Forwarder(settings, queue, courier, clock)
            app.state.catalogue = catalogue
            app.state.engine, app.state.stats, app.state.metrics = engine, stats, metrics
            app.state.journal, app.state.courier, app.state.forwarder = journal, courier, forwarder
            app.state.capabilities = {ods: trust_capability(t, settings.base_url) for ods, t in catalogue.trusts.items()}
            app.state.inboxes = {
                ods: TrustInbox(ods, db, ProcessedMessage, make_handlers(trust, queue),
                                responder=trust_org(ods, trust.name))
                for ods, trust in catalogue.trusts.items()
            }
            clock.watch(lambda: forwarder.due or courier.releasing)
            await forwarder.start()
            try:
                yield
            finally:
                await forwarder.stop()
                courier.cancel_timers()
                await journal.stop()

    async def health() -> dict:
        return {"trusts": sorted(catalogue.trusts), "queue": settings.queue}

    app = create_party_app("middleware", root_capability(catalogue.trusts, settings.base_url), lifespan=lifespan,
                           health=health, clock=clock)
    # Innermost, so inside the clock's middleware: a 503 while restarting is a call received and
    # answered like any other (docs/clock.md); outside it, each would be a request the harness saw
    # sent and never received, and the answers it hid behind that excess, time moved under.
    app.user_middleware.append(Middleware(RestartGate, forwarder_of=lambda: getattr(app.state, "forwarder", None)))
    for router in ROUTERS:
        app.include_router(router)
    return app
