"""Reading the national booking index: searched (by UBRN, by patient, by status) or read by UBRN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from party_common.ndjson import ndjson_response
from party_common.outcome import not_found
from party_common.search import SearchQuery, openapi_parameters
from party_common.search_sql import codes_condition, identifier_condition, ids_condition, sql_searchset

from spine_mock.booking_index import entry_resource
from spine_mock.dependencies import SessionDep
from spine_mock.models import BookingIndexEntry
from spine_mock.searches import INDEX

router = APIRouter()


@router.get("/Appointment", openapi_extra={"parameters": openapi_parameters(INDEX)})
async def search_appointments(request: Request, session: SessionDep,
                              q: Annotated[SearchQuery, Depends(INDEX.dependency)]):
    return FhirResponse(await sql_searchset(
        session, q, select(BookingIndexEntry),
        identifier_condition(q, "identifier", UBRN_SYSTEM, BookingIndexEntry.ubrn),
        identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, BookingIndexEntry.nhs_number),
        codes_condition(q, "status", BookingIndexEntry.status),
        # The UBRN is the entry's id as well as its identifier.
        ids_condition(q, BookingIndexEntry.ubrn),
        order_by=(BookingIndexEntry.ubrn,), resource=entry_resource, base=str(request.base_url), path="Appointment"))


@router.get("/Appointment/$export")
async def export_index(session: SessionDep):
    """The whole booking index as NDJSON, for reconciliation at scale."""
    rows = (await session.execute(select(BookingIndexEntry).order_by(BookingIndexEntry.ubrn))).scalars().all()
    return ndjson_response(rows, entry_resource)


@router.get("/Appointment/{ubrn}")
async def read_appointment(ubrn: str, session: SessionDep):
    row = await session.get(BookingIndexEntry, ubrn)
    if row is None:
        raise not_found(f"no booking with UBRN {ubrn} in the index", "Appointment.id")
    return entry_resource(row)
