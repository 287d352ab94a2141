"""All four parties in one event loop, wired through a RoutingTransport: the whole stack, no sockets."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from booking_broker.app import create_app as broker_app
from booking_broker.settings import Settings as BrokerSettings
from gp_system.app import create_app as gp_app
from gp_system.settings import Settings as GpSettings
from harness.stack.endpoints import StackUrls
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from spine_mock.app import create_app as spine_app
from spine_mock.settings import Settings as SpineSettings
from tests.inprocess import TRACE_HOOKS, running
from trust_pas.app import create_app as pas_app
from trust_pas.settings import Settings as PasSettings

URLS = StackUrls(broker="http://broker.test", spine="http://spine.test", pas="http://pas.test", gp="http://gp.test")


def mount(routes: RoutingTransport, apps: dict) -> RoutingTransport:
    """Routes each party's URL to its app (another client of a running in-process stack may use one)."""
    for name, app in apps.items():
        routes.mount(getattr(URLS, name), httpx.ASGITransport(app=app))
    return routes


@asynccontextmanager
async def inprocess_stack(tmp: Path, *, population_size: int = 400, broker_overrides: dict | None = None,
                          pas_overrides: dict | None = None, database_urls: dict | None = None,
                          log_level: str = "WARNING", clock: str = "system", routes: RoutingTransport | None = None):
    """Yields (urls, client, apps); the client reaches every party through the same transport.
    `clock="virtual"` puts every party on a virtual clock of its own; `routes` may be a transport of
    the test's (one that watches every call between parties)."""
    urls = database_urls or {}
    routes = routes if routes is not None else RoutingTransport()
    on_clock = {"clock": clock}

    def db(name: str) -> str:
        return urls.get(name) or f"sqlite+aiosqlite:///{tmp}/{name}.db"

    apps = {
        "spine": spine_app(SpineSettings(database_url=db("spine"), population_size=population_size, log_level=log_level,
                                           **on_clock), routes),
        "pas": pas_app(PasSettings(database_url=db("pas"), log_level=log_level, **on_clock, **(pas_overrides or {})), routes),
        "gp": gp_app(GpSettings(database_url=db("gp"), population_size=population_size, log_level=log_level, spine_url=URLS.spine,
                                broker_url=URLS.broker, public_url=URLS.gp, **on_clock), routes),
        "broker": broker_app(BrokerSettings(database_url=db("broker"), log_level=log_level, spine_url=URLS.spine, pas_url=URLS.pas,
                                            gp_url=URLS.gp, public_url=URLS.broker, **on_clock,
                                            **(broker_overrides or {})),
                             routes),
    }
    mount(routes, apps)
    async with running(*apps.values()):
        async with httpx.AsyncClient(transport=routes, headers={"Accept": FHIR_JSON}, timeout=30,
                                     event_hooks=TRACE_HOOKS) as client:
            yield URLS, client, apps
