from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import capability_statement, create_party_app
from party_common.database import Database
from party_common.http_client import party_client
from party_common.logging_setup import configure_logging

from . import routes_directory, routes_ledger, routes_messages
from .booking_flow import BookingFlow
from .directory import Directory
from .links import Courier, LinkStats
from .models import Base
from .settings import Settings

CAPABILITY = capability_statement(
    "booking broker",
    [
        {"type": "HealthcareService", "interactions": ["search-type"], "search": {"specialty": "token"}},
        {"type": "Slot", "interactions": ["search-type"],
         "search": {"service": "reference", "specialty": "token", "status": "token", "start": "date"}},
        {"type": "Appointment", "interactions": ["search-type"], "search": {"identifier": "token"}},
    ],
    ["process-message"],
)


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = Database(settings.database_url, Base)
        await db.start()
        client = party_client(transport, settings.http_timeout)
        stats = LinkStats()
        courier = Courier(client, stats)
        directory = Directory(settings, courier)
        app.state.db, app.state.stats, app.state.courier = db, stats, courier
        app.state.directory = directory
        app.state.flow = BookingFlow(settings, db, courier, directory)
        try:
            yield
        finally:
            await client.aclose()
            await db.dispose()

    app = create_party_app("booking_broker", CAPABILITY, lifespan=lifespan)
    app.state.settings = settings
    for module in (routes_directory, routes_messages, routes_ledger):
        app.include_router(module.router)
    return app
