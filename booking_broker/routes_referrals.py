"""The referral ledger, read over HTTP: one ServiceRequest per referral the broker routed, with what
the trust answered (extension `referral-state`: sent, accepted, rejected)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from party_common.booking import REFERRAL_SYSTEM
from party_common.bundles import searchset
from party_common.identifiers import split_token

from .dependencies import DatabaseDep
from .models import ReferralEntry
from .referral_flow import entry_resource

router = APIRouter()


@router.get("/ServiceRequest")
async def referrals(request: Request, db: DatabaseDep, identifier: str | None = None,
                    _count: Annotated[int, Query(ge=1, le=1000)] = 100,
                    _offset: Annotated[int, Query(ge=0, le=10**9)] = 0):
    base = str(request.base_url)
    conditions = []
    if identifier is not None:
        system, value = split_token(identifier)
        conditions.append(ReferralEntry.referral_id == (value if system in (None, REFERRAL_SYSTEM) else None))
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(ReferralEntry).where(*conditions))).scalar_one()
        rows = (await s.execute(select(ReferralEntry).where(*conditions).order_by(ReferralEntry.referral_id)
                                .offset(_offset).limit(_count))).scalars()
        items = [entry_resource(r) for r in rows]
    return searchset(items, total=total, base_url=base, path="ServiceRequest", params={"identifier": identifier},
                     offset=_offset, count=_count)
