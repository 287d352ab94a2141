"""Runs party apps in-process: lifespan started, reached through httpx.ASGITransport."""

from __future__ import annotations

from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from party_common.fhir_json import FHIR_JSON
from party_common.http_client import add_trace_headers

FHIR_HEADERS = {"Content-Type": FHIR_JSON}
# X-Request-ID and X-Correlation-ID on every request, as every client of the broker must send them.
TRACE_HOOKS = {"request": [add_trace_headers]}


@asynccontextmanager
async def running(*apps: FastAPI):
    """Starts each app's lifespan (database, clients) and stops them in reverse order."""
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield


@asynccontextmanager
async def client_for(app: FastAPI, base_url: str = "http://party.test"):
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url,
                                     headers={"Accept": FHIR_JSON}, event_hooks=TRACE_HOOKS) as client:
            yield client

