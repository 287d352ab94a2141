"""The FastAPI application every party starts from: tracing, error handling, /health, /metadata."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from party_common import clock_routes
from party_common.allowed_methods import allowed_methods
from party_common.body_limit import BodyLimitMiddleware
from party_common.capability import capability_statement  # noqa: F401  (the parties and tests import it from here)
from party_common.clock import Clock, using_clock
from party_common.correlation import CorrelationMiddleware
from party_common.http_client import PARTY_CALL_HEADER
from party_common.fhir_json import FhirResponse, loc_to_expression
from party_common.negotiation import AcceptMiddleware
from party_common.openapi_doc import fhir_openapi
from party_common.outcome import PROXY, RECEIVER, SENDER, FhirError, Issue, bars_code_for, operation_outcome

log = structlog.get_logger("errors")

_STATUS_CODES = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    406: "processing", 409: "conflict", 413: "too-costly", 415: "not-supported", 422: "business-rule",
    429: "throttled", 503: "transient",
}


# Young collections every 20,000 allocations rather than 700: request handling allocates in bursts
# that die by reference counting, and each collection cost more than it found.
_GC_THRESHOLDS = (20_000, 20, 20)


def _with_frozen_heap(lifespan: Callable[[FastAPI], AbstractAsyncContextManager] | None, clock: Clock):
    """The party's lifespan, on the party's clock, with the cyclic garbage collector tuned for serving.

    The lifespan starts with the party's clock as `party_clock()`, so the background tasks it starts
    (the broker's outbox worker) keep it; the setting ends with the start, so it does not leak into
    whatever started the app (a test running several parties in one loop).

    Modules, models, schemas and caches built at start-up live as long as the process, yet every
    full collection walked them all again; with the default thresholds the collector took close to
    a tenth of the GP system's and the broker's CPU under load. Frozen after start-up they are left
    alone, and collections come less often. On shutdown both are undone, so a test process that
    starts many apps still reclaims them.
    """

    @asynccontextmanager
    async def serving(app: FastAPI):
        async with AsyncExitStack() as resources:
            with using_clock(clock):
                await resources.enter_async_context(lifespan(app) if lifespan is not None else nullcontext())
            thresholds = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(*_GC_THRESHOLDS)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()

    return serving


_PARTY_CALL = PARTY_CALL_HEADER.lower().encode()


class ClockMiddleware:
    """Makes the party's clock `party_clock()` while it handles a request, and counts the request
    as the party's work in progress (`Clock.busy`); a call from another party (or the harness) is
    counted as received when it arrives and as answered when its handling ends, so the caller's
    clock can tell an answer on its way back (docs/clock.md)."""

    def __init__(self, app, clock: Clock):
        self.app = app
        self.clock = clock

    async def __call__(self, scope, receive, send):
        # Reading or moving the clock is not work the harness should wait for.
        if scope["type"] != "http" or scope["path"].startswith("/clock"):
            await self.app(scope, receive, send)
            return
        call = any(name == _PARTY_CALL for name, _ in scope["headers"])
        if call:
            self.clock.calls_received += 1
        try:
            with using_clock(self.clock), self.clock.working():
                await self.app(scope, receive, send)
        finally:
            if call:
                # In the same step as the request stops counting as work: from here the answer is
                # on its way to the caller, which counts it when it reads it.
                self.clock.calls_answered += 1


def create_party_app(
    party: str,
    capability: dict,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager] | None = None,
    health: Callable[[], Any] | None = None,
    clock: Clock | None = None,
    proxy: bool = False,
    require_trace_headers: bool = False,
) -> FastAPI:
    """`clock` is the party's one clock (settings.make_clock()), served at /clock; system time when None.

    A `proxy` (the broker) answers what it checks of a request before routing it (Accept, the trace
    headers when `require_trace_headers`, the method) with BaRS's `SEND_` codes and an unknown
    endpoint with `PROXY_NOT_FOUND`; what it answers as the booking service is `REC_`, as receivers'.
    """
    clock = clock or Clock()
    app = FastAPI(title=f"testbed {party}", default_response_class=FhirResponse,
                  lifespan=_with_frozen_heap(lifespan, clock))
    app.state.clock = clock
    # /openapi.json describes the FHIR API as it is, not as the handlers' Python signatures suggest.
    # Replacing the method is FastAPI's documented way to change the document it serves.
    app.openapi = fhir_openapi(app.openapi, party)  # type: ignore[method-assign]
    app.add_middleware(AcceptMiddleware, prefix=SENDER if proxy else RECEIVER)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(CorrelationMiddleware, party=party, require_trace_headers=require_trace_headers)
    app.add_middleware(ClockMiddleware, clock=clock)

    @app.exception_handler(FhirError)
    async def _fhir_error(request: Request, exc: FhirError):
        return FhirResponse(exc.outcome(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError):
        issues = []
        for err in exc.errors()[:20]:
            loc = tuple(err.get("loc", ()))
            where = loc[0] if loc else "request"
            expression = loc_to_expression(str(loc[1]) if len(loc) > 1 else str(where), loc[2:])
            issues.append(Issue("invalid", f"{where} parameter {expression}: {err.get('msg')}", [expression]))
        issues = issues or [Issue("invalid", "invalid request")]
        return FhirResponse(operation_outcome(issues, 400), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "processing")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        bars = bars_code_for(exc.status_code)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
            bars = bars_code_for(404, PROXY if proxy else RECEIVER)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            detail = f"method {request.method} not allowed on {request.url.path}"
            bars = bars_code_for(405, SENDER if proxy else RECEIVER)
            allow = allowed_methods(request.app, request.url.path)
            headers = {**(headers or {}), **({"Allow": allow} if allow else {})}
        return FhirResponse(operation_outcome([Issue(code, detail, bars_code=bars)]), status_code=exc.status_code,
                            headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # A bug, not bad input: logged with the correlation id, answered without a stack trace.
        log.error("unhandled", exc_info=exc, path=request.url.path)
        return FhirResponse(
            operation_outcome([Issue("exception", f"internal error: {type(exc).__name__}")], 500), status_code=500
        )

    @app.get("/metadata")
    async def metadata():
        return capability

    app.include_router(clock_routes.router)

    @app.get("/health")
    async def health_check():
        detail = await health() if health else {}
        return {"status": "ok", "party": party, **(detail or {})}

    return app
