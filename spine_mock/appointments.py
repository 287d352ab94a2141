"""Reading the national booking index: one entry by UBRN, or the whole index paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from party_common.bundles import WITHIN_OFFSET_RANGE, searchset
from party_common.identifiers import UBRN_SYSTEM, split_token
from party_common.ndjson import ndjson_response
from party_common.outcome import invalid, not_found

from .booking_index import entry_resource
from .dependencies import SessionDep
from .models import BookingIndexEntry

router = APIRouter()

DEFAULT_COUNT = 100
MAX_COUNT = 1000


@router.get("/Appointment")
async def search_appointments(
    request: Request,
    session: SessionDep,
    identifier: str | None = None,
    count: Annotated[int, Query(alias="_count", ge=0)] = DEFAULT_COUNT,
    offset: Annotated[int, Query(alias="_offset", ge=0), WITHIN_OFFSET_RANGE] = 0,
):
    base = str(request.base_url)
    if identifier is not None:
        system, value = split_token(identifier)
        if system is not None and system != UBRN_SYSTEM:
            raise invalid(f"identifier system must be {UBRN_SYSTEM}, got {system}", "identifier")
        if not value:
            raise invalid(f"identifier needs a value: {UBRN_SYSTEM}|<UBRN>", "identifier")
        row = await session.get(BookingIndexEntry, value)
        found = [entry_resource(row)] if row is not None else []
        return searchset(found, total=len(found), base_url=base, path="Appointment",
                         params={"identifier": identifier})
    # FHIR lets a server return fewer than asked; capping keeps one page from holding the index.
    count = min(count, MAX_COUNT)
    total = (await session.execute(select(func.count()).select_from(BookingIndexEntry))).scalar_one()
    rows = (await session.execute(
        select(BookingIndexEntry).order_by(BookingIndexEntry.ubrn).offset(offset).limit(count)
    )).scalars().all() if count else []
    return searchset([entry_resource(r) for r in rows], total=total, base_url=base, path="Appointment",
                     offset=offset, count=count)


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
