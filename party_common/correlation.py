"""Request and correlation ids: accepted from the caller, generated when absent, echoed, passed on.

BaRS has both as UUIDs. A proxy (the broker) may require them on its FHIR routes
(`require_trace_headers`), answering 400 `SEND_BAD_REQUEST` when either is missing or not a UUID;
otherwise a missing id is generated. Reads and searches (GET, HEAD) are let in without them, ids
generated and echoed, since a FHIR client (fhirpy, SMART's fhirclient) sends none; one that is sent
must still be a UUID. Whatever came in, the ids passed on to another party are UUIDs.

Plain ASGI middleware rather than Starlette's BaseHTTPMiddleware, which costs a task per request on
the hot path of every booking.
"""

from __future__ import annotations

import contextvars
import time
import uuid

import structlog

from party_common.fhir_json import FhirResponse, is_fhir_path
from party_common.outcome import SENDER, Issue, bars_code_for, operation_outcome, with_bars_code

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

_access_log = structlog.get_logger("access")


# Derives a UUID from a correlation id that is not one, so every call it leads to shares it.
_CORRELATION_NS = uuid.UUID("6b0f2f64-3c1e-4f3a-9d8e-2a7c5b1e9f40")


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    """A UUID in its usual written form (8-4-4-4-12 hex digits), as BaRS's `format: uuid` has it."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def as_uuid(correlation_id: str | None) -> str:
    if correlation_id is None:
        return new_id()
    return correlation_id if is_uuid(correlation_id) else str(uuid.uuid5(_CORRELATION_NS, correlation_id))


def outbound_headers() -> dict[str, str]:
    """Headers that carry the current trace onto a downstream call, always as UUIDs.

    The request id is passed on as received when it is a UUID, else each call gets one of its own; the
    correlation id is kept (one that is not a UUID is passed on as the UUID derived from it). Outside a
    request (the broker's outbox worker) each call starts a trace of its own.
    """
    rid = request_id_var.get()
    return {REQUEST_ID_HEADER: rid if rid is not None and is_uuid(rid) else new_id(),
            CORRELATION_ID_HEADER: as_uuid(correlation_id_var.get())}


def trace_problems(request_id: str | None, correlation_id: str | None, *, required: bool = True) -> list[Issue]:
    """What is wrong with the trace headers a request came with, as BaRS's SEND_BAD_REQUEST issues;
    a missing one only when they are `required`."""
    issues = []
    for header, value in ((REQUEST_ID_HEADER, request_id), (CORRELATION_ID_HEADER, correlation_id)):
        if not value:
            if not required:
                continue
            issues.append(Issue("required", f"the {header} header is required (a UUID)", [header]))
        elif not is_uuid(value):
            issues.append(Issue("value", f"the {header} header must be a UUID, got {value[:80]!r}", [header]))
    return with_bars_code(issues, bars_code_for(400, SENDER))


_READS = ("GET", "HEAD")


def _trace_checked(path: str) -> bool:
    # The capability statement stays readable by anyone, as health, metrics, clock and the
    # testbed's control routes do (they are not FHIR paths).
    return is_fhir_path(path) and not path.rstrip("/").endswith("/metadata")


class CorrelationMiddleware:
    def __init__(self, app, party: str, require_trace_headers: bool = False):
        self.app = app
        self.party = party
        self.require_trace_headers = require_trace_headers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = cid = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:200]
            elif name == b"x-correlation-id":
                cid = value.decode("latin-1")[:200]
        problems = (trace_problems(rid, cid, required=scope.get("method") not in _READS)
                    if self.require_trace_headers and _trace_checked(scope["path"]) else None)
        rid = rid or new_id()
        cid = cid or rid
        rid_token = request_id_var.set(rid)
        cid_token = correlation_id_var.set(cid)
        structlog.contextvars.bind_contextvars(request_id=rid, correlation_id=cid, party=self.party)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_ids(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                headers.append((b"x-correlation-id", cid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if problems:
                await FhirResponse(operation_outcome(problems), status_code=400)(scope, receive, send_with_ids)
            else:
                await self.app(scope, receive, send_with_ids)
        finally:
            _access_log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status_holder["status"],
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
            request_id_var.reset(rid_token)
            correlation_id_var.reset(cid_token)
