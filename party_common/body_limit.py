"""A limit on request bodies: one larger than the party takes is a 413 OperationOutcome, refused
before it is read into memory, let alone parsed.

Plain ASGI, like correlation.py. The limit is the party's `<P>_MAX_BODY_BYTES` setting, read from
`app.state.settings`; an app without settings there gets DEFAULT_MAX_BODY_BYTES.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from party_common.fhir_json import FhirResponse
from party_common.outcome import Issue, operation_outcome

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised while the body streams in. An HTTPException, so that FastAPI's body reading passes it on
    and the party's error handler answers it as any other error: a 413 OperationOutcome."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than the {limit} bytes this party takes")


def _too_large(limit: int) -> FhirResponse:
    return FhirResponse(operation_outcome([Issue("too-costly", BodyTooLarge(limit).detail)]), status_code=413)


def _declared_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = getattr(scope["app"].state, "settings", None) if "app" in scope else None
        limit = getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return

        # A chunked body says nothing of its length up front: it is counted as it arrives.
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            # Normally the party's error handler has answered already; this is for a body read
            # outside a route (a middleware), where nothing else would.
            if started:
                raise
            await _too_large(limit)(scope, receive, send)
