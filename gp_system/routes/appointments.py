"""The practice's own view of its bookings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from party_common.ndjson import ndjson_response
from party_common.outcome import not_found
from party_common.search import SearchQuery, offset_next, openapi_parameters, parse_instant, search_bundle
from party_common.search_sql import codes_condition, identifier_condition, ids_condition, sql_page

from gp_system.dependencies import PracticeDep, SessionDep, practice_base
from gp_system.models import Booking
from gp_system.searches import APPOINTMENTS
from gp_system.views import appointment, shown_status_column

router = APIRouter()


@router.get("/{ods}/Appointment", openapi_extra={"parameters": openapi_parameters(APPOINTMENTS)})
async def search_appointments(ods: PracticeDep, session: SessionDep, request: Request,
                              q: Annotated[SearchQuery, Depends(APPOINTMENTS.dependency)]):
    conditions = (Booking.gp_ods == ods,
                  identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, Booking.nhs_number),
                  identifier_condition(q, "identifier", UBRN_SYSTEM, Booking.ubrn),
                  codes_condition(q, "status", shown_status_column()),
                  ids_condition(q, Booking.id))
    if q.has("date") or q.sort:
        rows, total = await _by_start(session, q, conditions)
    else:
        rows, total = await sql_page(session, q, select(Booking), *conditions, order_by=(Booking.seq,))
    # A FhirResponse, not a dict: FastAPI would run a dict through jsonable_encoder, which costs
    # more than the search itself on a page of hundreds.
    return FhirResponse(search_bundle(q, [appointment(r) for r in rows], total=total, base=practice_base(request, ods),
                                      path="Appointment", next_position=offset_next(q, total)))


async def _by_start(session: AsyncSession, q: SearchQuery, conditions: tuple) -> tuple[list[Booking], int]:
    """Date searches and date order, decided here rather than in SQL: `start` is kept as the text
    the messages carried, so its zone offset varies and only a parsed instant compares truly."""
    rows = (await session.execute(
        select(Booking).where(*(c for c in conditions if c is not None)).order_by(Booking.seq)
    )).scalars().all()
    window = q.window("date")
    dated = [(parse_instant(r.start) if r.start else None, r) for r in rows]
    found = [(at, r) for at, r in dated if window.holds(at)]
    for _, descending in reversed(q.sort):  # "date" is the one sort key
        # Bookings without a start go last either way; sorted() keeps booking order among equals.
        timed = sorted(((at, r) for at, r in found if at is not None), key=lambda x: x[0], reverse=descending)
        found = [*timed, *((at, r) for at, r in found if at is None)]
    page = [] if q.total_only else [r for _, r in found[q.offset:q.offset + q.count]]
    return page, len(found)


@router.get("/{ods}/Appointment/$export")
async def export_appointments(ods: PracticeDep, session: SessionDep):
    """The practice's view of every booking as NDJSON, for reconciliation at scale."""
    rows = (await session.execute(select(Booking).where(Booking.gp_ods == ods).order_by(Booking.seq))).scalars().all()
    return ndjson_response(rows, appointment)


@router.get("/{ods}/Appointment/{booking_id}")
async def read_appointment(ods: PracticeDep, booking_id: str, session: SessionDep):
    row = (await session.execute(
        select(Booking).where(Booking.gp_ods == ods, Booking.id == booking_id)
    )).scalar_one_or_none()
    if row is None:
        raise not_found(f"no booking {booking_id} at practice {ods}")
    return appointment(row)
