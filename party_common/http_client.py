"""Outbound HTTP between parties, with the transport seam: in-process (ASGI) or over a socket."""

from __future__ import annotations

import httpx

from .correlation import outbound_headers
from .fhir_json import FHIR_JSON


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the transport mounted for its origin; tests mount ASGI apps here."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport] | None = None):
        self.routes: dict[str, httpx.AsyncBaseTransport] = {}
        for origin, transport in (routes or {}).items():
            self.mount(origin, transport)

    def mount(self, origin: str, transport: httpx.AsyncBaseTransport) -> None:
        self.routes[origin.rstrip("/")] = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        transport = self.routes.get(origin)
        if transport is None:
            raise httpx.ConnectError(f"no route to {origin}", request=request)
        return await transport.handle_async_request(request)


async def _add_trace_headers(request: httpx.Request) -> None:
    for name, value in outbound_headers().items():
        request.headers.setdefault(name, value)


def party_client(transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0) -> httpx.AsyncClient:
    """The client a party uses for every downstream call; trace headers ride on each request."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        headers={"Accept": FHIR_JSON},
        event_hooks={"request": [_add_trace_headers]},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


def fhir_post_headers() -> dict[str, str]:
    return {"Content-Type": FHIR_JSON}
