"""The flat extracts a legacy PAS gives for reconciliation: its appointment book and its referrals,
one row each, as CSV (the default) or a JSON list (docs/legacy-pas.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from legacy_pas.dependencies import ExtractQuery, ExtractQueryDep, SessionDep
from legacy_pas.models import Appointment, Referral

router = APIRouter()

APPOINTMENT_COLUMNS = ("trust_ods", "filler_id", "ubrn", "nhs_number", "service_id", "slot_id", "start", "end",
                       "status", "updated_at")
REFERRAL_COLUMNS = ("trust_ods", "referral_id", "nhs_number", "practice_ods", "service_id", "status",
                    "received_at", "updated_at")


def _instant(moment: datetime) -> str:
    # SQLite hands back the stored UTC time without its zone.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _appointment_row(a: Appointment) -> dict[str, Any]:
    return {"trust_ods": a.ods, "filler_id": a.filler_id, "ubrn": a.ubrn, "nhs_number": a.nhs_number,
            "service_id": a.service_id, "slot_id": a.slot_id, "start": a.start, "end": a.end, "status": a.status,
            "updated_at": _instant(a.updated_at)}


def _referral_row(r: Referral) -> dict[str, Any]:
    return {"trust_ods": r.ods, "referral_id": r.referral_id, "nhs_number": r.nhs_number,
            "practice_ods": r.practice_ods, "service_id": r.service_id, "status": r.status,
            "received_at": _instant(r.created_at), "updated_at": _instant(r.updated_at)}


def _extract(rows: Sequence[Any], render: Callable[[Any], dict[str, Any]], columns: tuple[str, ...],
             q: ExtractQuery) -> Response:
    records = [render(r) for r in rows]
    if q.format == "json":
        return JSONResponse(records)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in rec.items()} for rec in records)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


async def _rows(session: AsyncSession, model: type[Appointment] | type[Referral], order: tuple,
                q: ExtractQuery) -> Sequence[Any]:
    stmt = select(model).order_by(*order)
    if q.trust:
        stmt = stmt.where(model.ods == q.trust)
    return (await session.scalars(stmt)).all()


@router.get("/extract/appointments")
async def extract_appointments(session: SessionDep, q: ExtractQueryDep) -> Response:
    """Every appointment in the book, oldest first: cancelled ones stay, with status `cancelled`."""
    rows = await _rows(session, Appointment, (Appointment.created_at, Appointment.filler_id), q)
    return _extract(rows, _appointment_row, APPOINTMENT_COLUMNS, q)


@router.get("/extract/referrals")
async def extract_referrals(session: SessionDep, q: ExtractQueryDep) -> Response:
    """Every referral received, oldest first."""
    rows = await _rows(session, Referral, (Referral.created_at, Referral.id), q)
    return _extract(rows, _referral_row, REFERRAL_COLUMNS, q)
