"""`$book` and `$cancel`: a practice's requests read off HTTP, the work done by gp_system/booking_flow.py."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_fhir_body, require_fhir_content_type
from party_common.outcome import invalid

from gp_system import booking_flow
from gp_system.booking_flow import BookRequest
from gp_system.dependencies import ClientDep, DbDep, PracticeDep, SettingsDep

router = APIRouter()

# Slot ids are `<service id>-<YYYYMMDDHHMM>` (docs/api.md), so a slot names its service.
_SLOT_ID = re.compile(r"^(?P<service>.+)-\d{12}$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _request_id(param: dict, i: int) -> str:
    value = param.get("valueString") or param.get("valueId")
    if not value or not _FHIR_ID.match(value):
        raise invalid("parameter 'requestId' must be a FHIR id ([A-Za-z0-9-.]{1,64})", f"Parameters.parameter[{i}]")
    return value


def _cancel_request_id(body: dict) -> str | None:
    """The caller's id for the booking-cancel message, so a rerun sends the same message ids."""
    for i, param in enumerate(body.get("parameter") or []):
        if param.get("name") == "requestId":
            return _request_id(param, i)
    return None


def _book_parameters(body: dict) -> BookRequest:
    values: dict[str, str] = {}
    for i, param in enumerate(body.get("parameter") or []):
        name = param.get("name")
        if name in ("slot", "service"):
            value = param.get("valueString") or param.get("valueId")
            ref = (param.get("valueReference") or {}).get("reference") or ""
            if not value and "/" in ref:
                value = ref.rsplit("/", 1)[1]
            if not value:
                raise invalid(f"parameter {name!r} must carry a valueString", f"Parameters.parameter[{i}]")
        elif name == "requestId":
            value = _request_id(param, i)
        elif name == "start":
            value = param.get("valueDateTime") or param.get("valueInstant")
            if not value:
                raise invalid("parameter 'start' must carry a valueDateTime", f"Parameters.parameter[{i}]")
        else:
            continue
        values[name] = value
    wanted = BookRequest(values.get("slot"), values.get("service"), values.get("start"), values.get("requestId"))
    if not wanted.slot and not wanted.start:
        raise invalid("Parameters must hold 'slot' (a slot id) or 'start' (the earliest time wanted)",
                      "Parameters.parameter")
    if wanted.slot and not wanted.service:
        match = _SLOT_ID.match(wanted.slot)
        if not match:
            raise invalid("parameter 'service' is required with a slot id that does not name its service",
                          "Parameters.parameter")
        wanted.service = match["service"]
    return wanted


@router.post("/{ods}/ServiceRequest/{referral_id}/$book")
async def book(ods: PracticeDep, referral_id: str, request: Request, db: DbDep, client: ClientDep,
               settings: SettingsDep):
    body, _ = await read_fhir_body(request, "Parameters")
    raw = await booking_flow.book(db, client, settings, ods, referral_id, _book_parameters(body))
    return Response(raw, media_type=FHIR_JSON)


@router.post("/{ods}/Appointment/{booking_ref}/$cancel")
async def cancel(ods: PracticeDep, booking_ref: str, request: Request, db: DbDep, client: ClientDep,
                 settings: SettingsDep):
    request_id = None
    require_fhir_content_type(request)
    if await request.body():
        # The one parameter is an optional requestId; a body that is sent must be FHIR Parameters.
        body, _ = await read_fhir_body(request, "Parameters")
        request_id = _cancel_request_id(body)
    raw = await booking_flow.cancel(db, client, settings, ods, booking_ref, request_id)
    return Response(raw, media_type=FHIR_JSON)
