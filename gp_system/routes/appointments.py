"""The practice's own view of its bookings."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from party_common.bundles import searchset
from party_common.identifiers import UBRN_SYSTEM, split_token
from party_common.ndjson import ndjson_response
from party_common.outcome import invalid, not_found

from ..deps import CountParam, OffsetParam, PracticeDep, SessionDep
from ..models import Booking
from ..views import appointment

router = APIRouter()


@router.get("/{ods}/Appointment")
async def list_appointments(ods: PracticeDep, session: SessionDep, request: Request,
                            count: CountParam = 50, offset: OffsetParam = 0,
                            identifier: str | None = Query(None)):
    # Paging links as the caller reached us (a published port, a proxy), not our own idea of our URL.
    base = f"{str(request.base_url).rstrip('/')}/{ods}"
    if identifier is not None:
        system, value = split_token(identifier)
        if system not in (None, UBRN_SYSTEM) or not value:
            raise invalid(f"identifier must be {UBRN_SYSTEM}|<UBRN>", "identifier")
        rows = (await session.execute(
            select(Booking).where(Booking.gp_ods == ods, Booking.ubrn == value)
        )).scalars().all()
        return searchset([appointment(r) for r in rows], total=len(rows), base_url=base, path="Appointment",
                         params={"identifier": identifier})
    total = (await session.execute(
        select(func.count()).select_from(Booking).where(Booking.gp_ods == ods)
    )).scalar_one()
    rows = (await session.execute(
        select(Booking).where(Booking.gp_ods == ods).order_by(Booking.seq).offset(offset).limit(count)
    )).scalars().all()
    return searchset([appointment(r) for r in rows], total=total, base_url=base, path="Appointment",
                     offset=offset, count=count)


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
