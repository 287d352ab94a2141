"""Request and correlation ids: accepted from the caller, generated when absent, echoed, passed on.

Plain ASGI middleware rather than Starlette's BaseHTTPMiddleware, which costs a task per request on
the hot path of every booking.
"""

from __future__ import annotations

import contextvars
import time
import uuid

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

_access_log = structlog.get_logger("access")


def new_id() -> str:
    return str(uuid.uuid4())


def outbound_headers() -> dict[str, str]:
    """Headers that carry the current trace onto a downstream call."""
    headers = {}
    rid = request_id_var.get()
    cid = correlation_id_var.get()
    if rid:
        headers[REQUEST_ID_HEADER] = rid
    if cid:
        headers[CORRELATION_ID_HEADER] = cid
    return headers


class CorrelationMiddleware:
    def __init__(self, app, party: str):
        self.app = app
        self.party = party

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
