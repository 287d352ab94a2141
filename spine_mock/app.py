"""The spine's FastAPI application: `uvicorn --factory spine_mock.app:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import capability_statement, create_party_app
from party_common.capability_searches import declare_searches
from party_common.lifespan import party_resources
from party_common.logging_setup import configure_logging
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST

from spine_mock import searches
from spine_mock.routes import ROUTERS
from spine_mock.booking_index import booking_index_inbox
from spine_mock.models import Base
from spine_mock.seed import seed_patients
from spine_mock.settings import Settings

PARTY = "spine_mock"


def spine_capability(base: str) -> dict:
    # What each search honours is declared from the spec its route parses with.
    return declare_searches(capability_statement(
        PARTY,
        [
            {"type": "Patient", "interactions": ["read", "search-type"]},
            {"type": "Appointment", "interactions": ["read", "search-type"]},
        ],
        ["allocate-ubrn", "process-message"],
        base=base, description="spine: patient demographics, UBRN allocation and the national booking index",
        # The booking index learns of bookings from the broker; the spine sends no messages.
        receives=(BOOKING_REQUEST, BOOKING_CANCEL),
    ), searches.ALL)


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with party_resources(app, settings, Base, transport) as (db, _http):
            await seed_patients(db, settings.population_seed, settings.population_size)
            app.state.inbox = booking_index_inbox(db, dedupe=settings.dedupe)
            yield

    app = create_party_app(PARTY, spine_capability(settings.endpoint), lifespan=lifespan, clock=settings.make_clock())
    for router in ROUTERS:
        app.include_router(router)
    return app
