"""The ledger, read over HTTP: one Appointment per booking the broker believes it made."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from party_common.bundles import searchset
from party_common.identifiers import UBRN_SYSTEM, split_token
from party_common.outcome import invalid

from .booking_flow import ledger_appointment
from .dependencies import DatabaseDep, StatsDep
from .models import LedgerEntry

router = APIRouter()


@router.get("/Appointment")
async def ledger(request: Request, db: DatabaseDep, identifier: str | None = None,
                 _count: Annotated[int, Query(ge=1, le=1000)] = 100,
                 _offset: Annotated[int, Query(ge=0)] = 0):
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
