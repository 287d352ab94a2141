"""Requests every suite sends: messages to a `$process-message` inbox, bodies that are not FHIR."""

from __future__ import annotations

import httpx
import orjson

from party_common.identifiers import UBRN_SYSTEM, canonical_system

from ..expect import FHIR_JSON
from ..messages import focus_of, slot_of  # noqa: F401  (the checks read answers with them)
from ..checks import CheckFailed, Target


async def post_message(t: Target, path: str, bundle: dict, content_type: str = FHIR_JSON) -> httpx.Response:
    return await t.client.post(t.url(path), content=orjson.dumps(bundle),
                               headers={"Content-Type": content_type, "Accept": FHIR_JSON})


async def post_raw(t: Target, path: str, content: bytes, content_type: str) -> httpx.Response:
    return await t.client.post(t.url(path), content=content,
                               headers={"Content-Type": content_type, "Accept": FHIR_JSON})


async def get(t: Target, path: str, **params) -> httpx.Response:
    return await t.client.get(t.url(path), params={k: v for k, v in params.items() if v is not None},
                              headers={"Accept": FHIR_JSON})


def entries(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry") or []
            if (e.get("resource") or {}).get("resourceType") == resource_type]


def ubrn_of(appointment: dict) -> str | None:
    return next((i.get("value") for i in appointment.get("identifier") or []
                 if canonical_system(i.get("system")) == UBRN_SYSTEM), None)


def booked_ubrn(appointment: dict) -> str:
    """The UBRN of a booking the check made: the check fails when the Appointment carries none."""
    ubrn = ubrn_of(appointment)
    if ubrn is None:
        raise CheckFailed(f"the booking's Appointment carries no UBRN ({UBRN_SYSTEM})")
    return ubrn
