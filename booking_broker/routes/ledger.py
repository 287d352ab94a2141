"""The ledger, read over HTTP: one Appointment per booking the broker believes it made."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from party_common.control_auth import require_control_token
from party_common.fhir_json import FhirResponse, read_fhir_body
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from party_common.outcome import invalid, not_found
from party_common.search import SearchQuery, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import identifier_condition, ids_condition, sql_page

from booking_broker.booking_flow import ledger_appointment
from booking_broker.dependencies import DatabaseDep, FlowDep, StatsDep
from booking_broker.models import LedgerEntry
from booking_broker.rebooking import rebook
from booking_broker.searches import APPOINTMENT

router = APIRouter()
NDJSON = "application/fhir+ndjson"


# The ledger keeps a booking the trust refused as `rejected`; its Appointment says entered-in-error.
_LEDGER_STATUS = {"booked": "booked", "cancelled": "cancelled", "entered-in-error": "rejected"}
_SORT_COLUMNS = {"_id": LedgerEntry.ubrn, "date": LedgerEntry.start}


def _status_condition(q: SearchQuery):
    codes = q.codes("status")
    return None if codes is None else LedgerEntry.status.in_(sorted({_LEDGER_STATUS.get(c, "") for c in codes}))


def _order(q: SearchQuery) -> tuple:
    keys = [_SORT_COLUMNS[name].desc() if desc else _SORT_COLUMNS[name].asc() for name, desc in q.sort]
    # The UBRN last, so rows that tie on the asked keys keep one order from page to page.
    return (*keys, LedgerEntry.ubrn)


@router.get("/Appointment", openapi_extra={"parameters": openapi_parameters(APPOINTMENT)})
async def ledger(request: Request, db: DatabaseDep, q: Annotated[SearchQuery, Depends(APPOINTMENT.dependency)]):
    async with db.session() as s:
        rows, total = await sql_page(
            s, q, select(LedgerEntry),
            identifier_condition(q, "identifier", UBRN_SYSTEM, LedgerEntry.ubrn),
            identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, LedgerEntry.nhs_number),
            _status_condition(q),
            # The UBRN is the Appointment's id as well as its identifier.
            ids_condition(q, LedgerEntry.ubrn),
            order_by=_order(q))
        items = [ledger_appointment(r) for r in rows]
    return FhirResponse(search_bundle(q, items, total=total, base=str(request.base_url), path="Appointment",
                                      next_position=offset_next(q, total)))


@router.get("/links")
async def links(stats: StatsDep):
    """Message outcomes per link and event since start (or since the last reset)."""
    return stats.as_json()


@router.get("/Appointment/$export")
async def export_ledger(db: DatabaseDep):
    """Every ledger entry as NDJSON, one Appointment a line (FHIR Bulk Data style), streamed."""

    async def lines():
        async with db.session() as s:
            result = await s.stream(select(LedgerEntry).order_by(LedgerEntry.ubrn).execution_options(yield_per=2000))
            async for entry in result.scalars():
                yield orjson.dumps(ledger_appointment(entry)) + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)


@router.get("/Appointment/{ubrn}")
async def read_booking(ubrn: str, db: DatabaseDep):
    """One ledger entry by its UBRN, the id of the Appointment the searches give."""
    async with db.session() as s:
        entry = await s.get(LedgerEntry, ubrn)
    if entry is None:
        raise not_found(f"the ledger has no booking with UBRN {ubrn[:40]}")
    return FhirResponse(ledger_appointment(entry))


# A repair changes what the parties hold: a control operation, so it takes the control token when one is set.
@router.post("/Appointment/{ubrn}/$resend", dependencies=[Depends(require_control_token)],
             responses={401: {"description": "control token missing or wrong (TESTBED_CONTROL_TOKEN is set)"}})
async def resend(ubrn: str, request: Request, flow: FlowDep):
    """Repair: re-deliver a booking's current state to one party (`target`: pas, gp or spine)."""
    _, params = await read_fhir_body(request, "Parameters")
    target = next((p.valueCode or p.valueString for p in params.parameter or [] if p.name == "target"), None)
    if not target:
        raise invalid("Parameters must hold `target` (pas, gp or spine)", "Parameters.parameter")
    d = await flow.resend(ubrn, target)
    return {"resourceType": "Parameters", "parameter": [
        {"name": "outcome", "valueCode": d.outcome},
        {"name": "delivered", "valueBoolean": d.delivered},
        *([{"name": "status", "valueInteger": d.status}] if d.status is not None else []),
    ]}


@router.post("/Appointment/{ubrn}/$rebook", dependencies=[Depends(require_control_token)],
             responses={401: {"description": "control token missing or wrong (TESTBED_CONTROL_TOKEN is set)"},
                        404: {"description": "no booking with this UBRN"},
                        409: {"description": "the service has no free slot to move the booking to"},
                        422: {"description": "the booking is not booked (cancelled, or refused by its trust)"}})
async def rebook_booking(ubrn: str, flow: FlowDep):
    """Repair: resend the booking to its trust and, when the trust has given its slot to another
    booking (409), move it to the service's first free slot from the same time, same UBRN, and tell
    the practice and the spine (docs/reconcile.md)."""
    done = await rebook(flow, ubrn)
    d = done.delivery
    return {"resourceType": "Parameters", "parameter": [
        {"name": "outcome", "valueCode": d.outcome},
        {"name": "delivered", "valueBoolean": d.delivered},
        *([{"name": "status", "valueInteger": d.status}] if d.status is not None else []),
        {"name": "slot", "valueString": done.slot},
        *([{"name": "start", "valueDateTime": done.start}] if done.start else []),
        *([{"name": "movedFrom", "valueString": done.moved_from}] if done.moved_from else []),
    ]}
