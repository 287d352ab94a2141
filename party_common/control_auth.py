"""An optional bearer token on the control endpoints (fault plan, delivery mode, clock, repair).

With `TESTBED_CONTROL_TOKEN` set, a party refuses a control request that does not carry
`Authorization: Bearer <token>` (401), so neither a web page in the engineer's browser nor another
user on a shared host can rewrite a run's fault plan. Without it the endpoints stay open, as a
developer's embedded stack on loopback expects. The harness sends the token from the same variable.
Reads (GET) stay open: they change nothing.
"""

from __future__ import annotations

import hmac
import os

import httpx
from fastapi import Request

from party_common.outcome import FhirError

CONTROL_TOKEN_ENV = "TESTBED_CONTROL_TOKEN"
_READS = {"GET", "HEAD", "OPTIONS"}
# Paths (or their endings) of the control endpoints, for the client hook.
_CONTROL_PATHS = ("/faults", "/delivery", "/clock/advance", "/$resend", "/$rebook")


def _presented(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_control_token(request: Request) -> None:
    """A route dependency: the control token, when the party has one, on every non-read request."""
    settings = getattr(request.app.state, "settings", None)
    expected = getattr(settings, "control_token", None)
    if not expected or request.method in _READS:
        return
    given = _presented(request)
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        why = "is missing" if given is None else "is not this stack's"
        raise FhirError(401, "login", f"control endpoint: the bearer token {why}; send "
                        f"`Authorization: Bearer <{CONTROL_TOKEN_ENV}>`", ["Authorization"],
                        headers={"WWW-Authenticate": 'Bearer realm="testbed control"'})


def control_token() -> str | None:
    return os.environ.get(CONTROL_TOKEN_ENV) or None


def control_headers() -> dict[str, str]:
    token = control_token()
    return {"Authorization": f"Bearer {token}"} if token else {}


def is_control_path(path: str) -> bool:
    return any(path.endswith(p) or f"{p}/" in path for p in _CONTROL_PATHS)


async def add_control_token(request: httpx.Request) -> None:
    """An httpx request hook: the control token on requests to control endpoints (and no others, so
    it never reaches a real system standing in for one of our parties)."""
    if request.method not in _READS and is_control_path(request.url.path):
        for name, value in control_headers().items():
            request.headers.setdefault(name, value)
