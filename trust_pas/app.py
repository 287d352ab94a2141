"""The trust PAS application: `uvicorn --factory trust_pas.app:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.app_factory import create_party_app
from party_common.booking import trust_org
from party_common.lifespan import party_resources
from party_common.logging_setup import configure_logging

from trust_pas.routes import ROUTERS
from trust_pas.booking_flow import make_handlers
from trust_pas.referral_flow import make_referral_handlers
from trust_pas.capability import root_capability, trust_capability
from party_common.trusts.catalogue import build_catalogue
from trust_pas.models import Base, ProcessedMessage
from trust_pas.settings import Settings
from trust_pas.site_behaviour import SiteDesk
from trust_pas.slot_search import SlotFinder
from party_common.trusts.inbox import TrustInbox


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    # Built before serving so a bad PAS_TRUSTS stops the start instead of the first request.
    catalogue = build_catalogue(settings.trusts, settings.calendar_start, settings.horizon_days)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with party_resources(app, settings, Base, transport) as (db, _http):
            finder = SlotFinder()
            app.state.catalogue = catalogue
            app.state.slot_finder = finder
            app.state.site_desk = SiteDesk(settings.sites, settings.population_seed)
            app.state.capabilities = {ods: trust_capability(t, settings.base_url)
                                      for ods, t in catalogue.trusts.items()}
            app.state.inboxes = {
                ods: TrustInbox(ods, db, ProcessedMessage,
                                {**make_handlers(trust, finder, is_sqlite=db.is_sqlite),
                                 **make_referral_handlers(trust)},
                                responder=trust_org(ods, trust.name), dedupe=settings.dedupe)
                for ods, trust in catalogue.trusts.items()
            }
            yield

    async def health() -> dict:
        return {"trusts": sorted(catalogue.trusts)}

    app = create_party_app("trust_pas", root_capability(catalogue.trusts, settings.base_url), lifespan=lifespan,
                           health=health, clock=settings.make_clock())
    for router in ROUTERS:
        app.include_router(router)
    return app
