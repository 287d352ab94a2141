"""A trust's appointments, as its PAS holds them: by UBRN, paged, or one by id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from party_common.bundles import searchset
from party_common.fhir_json import FhirResponse
from party_common.identifiers import UBRN_SYSTEM, split_token
from party_common.ndjson import ndjson_response
from party_common.outcome import invalid, not_found

from . import resources
from .deps import SessionDep, TrustDep, trust_base
from .models import Appointment
from .search_params import count_param, offset_param, single

router = APIRouter()


@router.get("/{ods}/Appointment")
async def search_appointments(trust: TrustDep, request: Request, session: SessionDep):
    """Oldest first (created, then id), so paging with `_offset` is stable while bookings arrive."""
    params = request.query_params
    count = count_param(params, default=100, maximum=1000)
    offset = offset_param(params)
    identifier = single(params, "identifier")
    status = single(params, "status")
    conditions = [Appointment.ods == trust.ods]
    nothing = False
    if identifier is not None:
        system, value = split_token(identifier)
        nothing = system not in (None, UBRN_SYSTEM) or not value
        conditions.append(Appointment.ubrn == value)
    if status is not None:
        codes = [c.strip() for c in status.split(",") if c.strip()]
        if not codes:
            raise invalid("status must name at least one appointment status", "status")
        conditions.append(Appointment.status.in_(codes))
    if nothing:
        total, rows = 0, []
    else:
        total = await session.scalar(select(func.count()).select_from(Appointment).where(*conditions))
        rows = (await session.scalars(
            select(Appointment).where(*conditions)
            .order_by(Appointment.created_at, Appointment.id).offset(offset).limit(count)
        )).all() if count else []
    bundle = searchset([resources.appointment(r) for r in rows], total=total, base_url=trust_base(request, trust),
                       path="Appointment", params={"identifier": identifier, "status": status},
                       offset=offset, count=count or None)
    # A response rather than a dict: pages of up to 1000 would otherwise go through jsonable_encoder.
    return FhirResponse(bundle)


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
