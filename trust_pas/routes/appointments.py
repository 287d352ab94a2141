"""A trust's appointments, as its PAS holds them: searched, exported, or one by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from party_common.ndjson import ndjson_response
from party_common.outcome import not_found
from party_common.search import SearchQuery, gather, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import codes_condition, identifier_condition, ids_condition, sql_page

from party_common.trusts import resources
from trust_pas.dependencies import SessionDep, TrustDep, trust_base
from trust_pas.models import Appointment
from trust_pas.searches import APPOINTMENT
from trust_pas.search_sql import instant_condition
from trust_pas.trust_resources import resolver

router = APIRouter()
AppointmentQuery = Annotated[SearchQuery, Depends(APPOINTMENT.dependency)]


@router.get("/{ods}/Appointment", openapi_extra={"parameters": openapi_parameters(APPOINTMENT)})
async def search_appointments(trust: TrustDep, request: Request, session: SessionDep,
                              q: AppointmentQuery):
    """Oldest first (created, then id) unless sorted by date, so paging is stable while bookings arrive."""
    order = [Appointment.start.desc() if desc else Appointment.start for _, desc in q.sort]
    rows, total = await sql_page(
        session, q, select(Appointment), Appointment.ods == trust.ods,
        identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, Appointment.nhs_number),
        identifier_condition(q, "identifier", UBRN_SYSTEM, Appointment.ubrn),
        codes_condition(q, "status", Appointment.status),
        instant_condition(q, "date", Appointment.start),
        ids_condition(q, Appointment.id),
        order_by=(*order, Appointment.created_at, Appointment.id))
    found = [resources.appointment(r) for r in rows]
    included = await gather(found, q.includes, resolver(trust, session)) if found else []
    # A response rather than a dict: pages of up to 1000 would otherwise go through jsonable_encoder.
    return FhirResponse(search_bundle(q, found, total=total, base=trust_base(request, trust), path="Appointment",
                                      next_position=offset_next(q, total), included=included))


@router.get("/{ods}/Appointment/$export")
async def export_appointments(trust: TrustDep, session: SessionDep):
    """Every appointment of the trust as NDJSON, for reconciliation at scale."""
    rows = (await session.scalars(select(Appointment).where(Appointment.ods == trust.ods)
                                  .order_by(Appointment.created_at, Appointment.id))).all()
    return ndjson_response(rows, resources.appointment)


@router.get("/{ods}/Appointment/{appointment_id}")
async def read_appointment(trust: TrustDep, appointment_id: str, session: SessionDep):
    row = await session.get(Appointment, appointment_id) if len(appointment_id) <= 36 else None
    if row is None or row.ods != trust.ods:
        raise not_found(f"no Appointment/{appointment_id} at {trust.ods}")
    return FhirResponse(resources.appointment(row))
