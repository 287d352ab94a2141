"""Outbound HTTP between parties, with the transport seam: in-process (ASGI) or over a socket."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import orjson
import yarl

from party_common.clock import VIRTUAL, Clock
from party_common.correlation import outbound_headers
from party_common.fhir_json import FHIR_JSON

# Below uvicorn's 5 s keep-alive, so an idle connection is dropped here before the server drops it
# under a request.
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=4.0)


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


# Marks a call from one party to another, so the receiver counts it (Clock.calls_received).
PARTY_CALL_HEADER = "X-Testbed-Party-Call"


class CallingOutTransport(httpx.AsyncBaseTransport):
    """Marks the caller as waiting on another party while a call is out, so the caller's clock does
    not count it as busy, and counts the call at this end: sent, and its answer read (docs/clock.md).

    A request for `/clock` is no call: the harness reading or moving clocks is not work, and the
    receiver does not count it either.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: Clock):
        self.inner = inner
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/clock"):
            return await self.inner.handle_async_request(request)
        request.headers[PARTY_CALL_HEADER] = "1"
        self.clock.calls_sent += 1
        with self.clock.calling_out():
            try:
                response = await self.inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self.clock.calls_unreached += 1  # never arrived, so never to be counted as received
                raise
            # Read, in the same step as the caller's work resumes: the answer is off the wire.
            self.clock.answers_received += 1
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _as_httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error httpcore would have raised for what aiohttp raised.

    Callers tell "never reached" (ConnectError) from "sent, no answer in time" (a timeout), so each
    keeps its class: a refused connection is not a timeout, nor is a dropped one.
    """
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)


def _never_sent(exc: BaseException) -> bool:
    """Whether aiohttp failed because the connection was already closing when it began to write."""
    return isinstance(exc, aiohttp.ClientConnectionResetError) or (
        isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__, aiohttp.ClientConnectionResetError))


class SocketTransport(httpx.AsyncBaseTransport):
    """httpx over aiohttp's connection pool: about a fifth of httpcore's CPU per call for these short
    FHIR exchanges (httpcore scans its pool and polls each socket on every request).

    Bodies are read whole before the response is handed back: parties exchange small JSON
    documents, and reading in one piece skips httpx's chunk-by-chunk stream machinery.
    """

    def __init__(self, limits: httpx.Limits = _LIMITS):
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will run it.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limits.max_connections or 0,
                                             keepalive_timeout=self._limits.keepalive_expiry)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                # httpx has set every header the request needs; aiohttp is not to add its own.
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._send(request)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if not _never_sent(exc):
                raise _as_httpx_error(exc, request) from exc
        # A kept-alive connection the server had just closed: the request never left, so it goes
        # again on a new connection (httpcore polls each socket before reuse to the same end).
        try:
            return await self._send(request)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _as_httpx_error(exc, request) from exc

    async def _send(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        async with self._client().request(
            # httpx has already encoded the URL; taken as it is, not quoted again.
            request.method, yarl.URL(str(request.url), encoded=True), headers=request.headers.multi_items(),
            data=body or None, allow_redirects=False, compress=None,
            timeout=aiohttp.ClientTimeout(total=None, connect=timeout.get("pool"),
                                          sock_connect=timeout.get("connect"), sock_read=timeout.get("read")),
        ) as response:
            content = await response.read()
        # Encoded as sent: httpx decodes any Content-Encoding itself, as it would from httpcore.
        return httpx.Response(response.status, headers=response.raw_headers, content=content, request=request,
                              extensions={"http_version": b"HTTP/1.1",
                                          "reason_phrase": (response.reason or "").encode()})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _NoCookies(httpx.Cookies):
    """Parties set no cookies; reading every answer for them cost more than a JSON decode."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class PartyClient(httpx.AsyncClient):
    """httpx's client with JSON bodies encoded by orjson, and cookies looked for only when set."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # If a later httpx renames this, cookies are simply read as before.
        self._cookies = _NoCookies(self._cookies)

    def build_request(self, method, url, *, content=None, data=None, files=None, json=None, **kwargs):
        if json is None or content is not None or data is not None or files is not None:
            return super().build_request(method, url, content=content, data=data, files=files, json=json,
                                         **kwargs)
        try:
            body = orjson.dumps(json)
        except TypeError:
            # What orjson will not encode (keys that are not strings...) goes the standard way.
            return super().build_request(method, url, json=json, **kwargs)
        request = super().build_request(method, url, content=body, **kwargs)
        request.headers.setdefault("Content-Type", "application/json")
        return request


async def add_trace_headers(request: httpx.Request) -> None:
    """An httpx request hook: X-Request-ID and X-Correlation-ID (UUIDs, as BaRS requires) on every
    request that does not set its own. Every client of a party in this repository uses it."""
    for name, value in outbound_headers().items():
        request.headers.setdefault(name, value)


_REAL_BACKSTOP_S = 300.0


def party_client(transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0,
                 clock: Clock | None = None) -> httpx.AsyncClient:
    """The client a party uses for every downstream call; trace headers ride on each request.

    Without a transport (tests pass one that reaches in-process apps) calls go over sockets. With
    the party's clock, time spent waiting on another party is not counted as this one's work.
    """
    transport = transport if transport is not None else SocketTransport(_LIMITS)
    virtual = clock is not None and clock.mode == VIRTUAL
    return PartyClient(
        transport=CallingOutTransport(transport, clock) if clock is not None else transport,
        # On a virtual clock a call waits out simulated delays however long they are (the `timeout`
        # fault action models a caller giving up): a timeout in the machine's seconds would make the
        # outcome depend on how fast the machine is. The backstop only catches a party that hangs.
        timeout=_REAL_BACKSTOP_S if virtual else timeout,
        headers={"Accept": FHIR_JSON},
        event_hooks={"request": [add_trace_headers]},
        limits=_LIMITS,
    )


def fhir_post_headers() -> dict[str, str]:
    return {"Content-Type": FHIR_JSON}
