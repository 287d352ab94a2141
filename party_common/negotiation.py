"""406 for an `Accept` header a party cannot serve: its FHIR routes answer FHIR JSON only.

`*/*`, `application/json` and `application/fhir+json` (with parameters such as `; version=1.0.0` or
`fhirVersion=4.0`) are served, as is a request without `Accept`; `$export` also serves NDJSON.
The answer is BaRS's NOT_ACCEPTABLE: `SEND_` from the proxy (the broker), `REC_` from a receiver.
Plain ASGI middleware, before routing, so every FHIR route of every party gets the same check.
"""

from __future__ import annotations

import mimeparse

from party_common.fhir_json import FhirResponse, is_fhir_path
from party_common.outcome import RECEIVER, FhirError

_SERVED = ["application/fhir+json", "application/json"]
_SERVED_EXPORT = [*_SERVED, "application/fhir+ndjson", "application/ndjson", "application/x-ndjson"]
# What the parties and most clients send, let through without parsing: this runs on every request.
_PLAIN = frozenset({"application/fhir+json", "application/json", "*/*"})


def acceptable(accept: str, path: str) -> bool:
    if accept in _PLAIN:
        return True
    served = _SERVED_EXPORT if path.rstrip("/").endswith("/$export") else _SERVED
    try:
        return bool(mimeparse.best_match(served, accept))
    except mimeparse.MimeTypeParseException:
        return False


class AcceptMiddleware:
    def __init__(self, app, prefix: str = RECEIVER):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not is_fhir_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        accept = ", ".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"accept").strip()
        if not accept or acceptable(accept, scope["path"]):
            await self.app(scope, receive, send)
            return
        error = FhirError(406, "processing", f"cannot answer in any type the Accept header allows ({accept[:120]}); "
                          "this service answers application/fhir+json", ["Accept"],
                          bars_code=f"{self.prefix}NOT_ACCEPTABLE")
        await FhirResponse(error.outcome(), status_code=406)(scope, receive, send)
