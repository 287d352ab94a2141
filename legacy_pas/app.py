"""The legacy PAS application: `uvicorn --factory legacy_pas.app:create_app`.

Its booking path is HL7 v2 over MLLP, one listener per trust (legacy_pas/mllp_inbox.py), opened and
closed with the app; over HTTP it answers /health, its flat extracts and the clock routes.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import create_party_app
from party_common.capability import capability_statement
from party_common.lifespan import party_resources
from party_common.logging_setup import configure_logging
from party_common.trusts.catalogue import build_catalogue

from legacy_pas.booking_flow import make_handlers
from legacy_pas.mllp_inbox import MllpInbox, MllpListeners
from legacy_pas.models import Base
from legacy_pas.routes import ROUTERS
from legacy_pas.settings import Settings


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    # Built before serving so bad LEGACY_PAS_TRUSTS or ports stop the start instead of the first message.
    catalogue = build_catalogue(settings.trusts, settings.calendar_start, settings.horizon_days)
    ports = settings.mllp_port_map(list(catalogue.trusts))
    clock = settings.make_clock()
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    listeners: MllpListeners | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        nonlocal listeners
        async with party_resources(app, settings, Base, transport) as (db, _http):
            app.state.catalogue = catalogue
            listeners = MllpListeners({
                ods: MllpInbox(trust, db, clock, make_handlers(trust), settings.ack_delay_ms / 1000)
                for ods, trust in catalogue.trusts.items()
            })
            await listeners.open(settings.mllp_host, ports)
            app.state.mllp = listeners
            try:
                yield
            finally:
                await listeners.close()

    async def health() -> dict:
        return {"trusts": sorted(catalogue.trusts),
                "mllp": {"host": settings.mllp_host, "ports": listeners.ports if listeners else {}}}

    capability = capability_statement(
        "legacy_pas", [], [], base=base,
        description="A legacy trust PAS: bookings arrive as HL7 v2.4 over MLLP, not FHIR (docs/legacy-pas.md)")
    app = create_party_app("legacy_pas", capability, lifespan=lifespan, health=health, clock=clock)
    for router in ROUTERS:
        app.include_router(router)
    return app
