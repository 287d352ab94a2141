"""While the engine restarts (middleware/forwarder.py) it answers nothing: every request but the
control routes (the clock, journal, queue and faults, which the harness and tests read to see what
happened) gets 503 with Retry-After, the seconds of the restart left on the party's clock."""

from __future__ import annotations

import orjson

from party_common.outcome import FhirError

CONTROL = ("/clock", "/journal", "/queue", "/faults")


class RestartGate:
    def __init__(self, app, forwarder_of):
        self.app = app
        self.forwarder_of = forwarder_of   # () -> the Forwarder, or None before start-up

    async def __call__(self, scope, receive, send):
        forwarder = self.forwarder_of() if scope["type"] == "http" else None
        if forwarder is None or not forwarder.restarting or scope["path"].startswith(CONTROL):
            await self.app(scope, receive, send)
            return
        retry = str(forwarder.retry_after())
        body = orjson.dumps(FhirError(503, "transient", "the integration engine is restarting; try again in "
                                      f"{retry} s").outcome())
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/fhir+json"), (b"retry-after", retry.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
