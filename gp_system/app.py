"""The GP system application: `uvicorn --factory gp_system.app:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import capability_statement, create_party_app
from party_common.booking import practice_org
from party_common.capability_searches import declare_searches
from party_common.database import Database
from party_common.inbox import Inbox
from party_common.lifespan import party_resources
from party_common.logging_setup import configure_logging
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST, SERVICEREQUEST_RESPONSE

from gp_system.confirmations import apply_confirmation
from gp_system.referral_responses import apply_referral_response
from gp_system.dependencies import PRACTICE_NAMES
from gp_system import searches
from gp_system.models import Base, ProcessedMessage
from gp_system.routes import ROUTERS
from gp_system.seed import seed_registrations
from gp_system.settings import Settings

PARTY = "gp_system"


# A practice's inbox takes the broker's confirmations and the trusts' referral answers; the practice
# sends bookings, cancellations and referrals to the broker.
RECEIVES = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_RESPONSE)
SENDS = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST)


def gp_capability(settings: Settings) -> dict:
    """The service root's statement: the practices hosted (Organization); everything else lives at a
    practice's base, which has its own statement (`practice_capability`). The messages are received
    at each practice's base, so those are its endpoints."""
    return declare_searches(capability_statement(
        "gp_system",
        [{"type": "Organization", "interactions": ["read", "search-type"]}],
        [],
        base=settings.public_url, description="GP system hosting practices " + ", ".join(PRACTICE_NAMES),
        receives=RECEIVES, sends=SENDS, endpoints=[settings.practice_endpoint(ods) for ods in PRACTICE_NAMES],
    ), [searches.PRACTICES])


def practice_capability(settings: Settings, ods: str) -> dict:
    """`/{ods}/metadata`: what a FHIR client given a practice's base finds there; what each search
    honours is declared from the spec its route parses with."""
    return declare_searches(capability_statement(
        f"gp_system {ods}",
        [
            {"type": "Patient", "interactions": ["read", "search-type"]},
            {"type": "ServiceRequest", "interactions": ["create", "read", "search-type"], "operations": ["book"]},
            {"type": "Appointment", "interactions": ["read", "search-type"], "operations": ["cancel"]},
        ],
        ["process-message"],
        base=settings.practice_endpoint(ods), description=f"{PRACTICE_NAMES[ods]} GP practice system",
        receives=RECEIVES, sends=SENDS,
    ), [searches.APPOINTMENTS, searches.PATIENTS, searches.REFERRALS])


def _inbox_for(db: Database, settings: Settings, ods: str) -> Inbox:
    async def handle(session, msg):
        return await apply_confirmation(session, ods, msg)

    async def referral_answer(session, msg):
        return await apply_referral_response(session, ods, msg)

    return Inbox(db, ProcessedMessage, {BOOKING_REQUEST: handle, BOOKING_CANCEL: handle,
                                        SERVICEREQUEST_RESPONSE: referral_answer},
                 responder=practice_org(ods, PRACTICE_NAMES.get(ods)), dedupe=settings.dedupe)


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with party_resources(app, settings, Base, transport) as (db, _http):
            await seed_registrations(db, settings.population_seed, settings.population_size)
            app.state.inboxes = {ods: _inbox_for(db, settings, ods) for ods in PRACTICE_NAMES}
            yield

    capability = gp_capability(settings)
    app = create_party_app(PARTY, capability, lifespan=lifespan, clock=settings.make_clock())
    app.state.settings = settings
    app.state.capability = capability
    app.state.practice_capabilities = {ods: practice_capability(settings, ods) for ods in PRACTICE_NAMES}
    for router in ROUTERS:
        app.include_router(router)
    return app
