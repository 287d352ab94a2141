"""The ledger, read over HTTP: one Appointment per booking the broker believes it made."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from party_common.bundles import WITHIN_OFFSET_RANGE, searchset
from party_common.fhir_json import read_fhir_body
from party_common.identifiers import UBRN_SYSTEM, split_token
from party_common.outcome import invalid

from .booking_flow import ledger_appointment
from .dependencies import DatabaseDep, FlowDep, StatsDep
from .models import LedgerEntry

router = APIRouter()
NDJSON = "application/fhir+ndjson"


@router.get("/Appointment")
async def ledger(request: Request, db: DatabaseDep, identifier: str | None = None,
                 _count: Annotated[int, Query(ge=1, le=1000)] = 100,
                 _offset: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE] = 0):
    base = str(request.base_url)
    async with db.session() as s:
        if identifier is not None:
            system, value = split_token(identifier)
            if system not in (None, UBRN_SYSTEM):
                raise invalid(f"identifier system must be {UBRN_SYSTEM}", "identifier")
            entry = await s.get(LedgerEntry, value)
            items = [ledger_appointment(entry)] if entry else []
            return searchset(items, total=len(items), base_url=base, path="Appointment",
                             params={"identifier": identifier})
        total = (await s.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        rows = (await s.execute(select(LedgerEntry).order_by(LedgerEntry.ubrn).offset(_offset).limit(_count))).scalars()
        items = [ledger_appointment(r) for r in rows]
    return searchset(items, total=total, base_url=base, path="Appointment", offset=_offset, count=_count)


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


@router.post("/Appointment/{ubrn}/$resend")
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
