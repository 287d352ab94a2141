"""A trust's referrals, as its PAS holds them: by referral id, paged, or one by id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from party_common.booking import REFERRAL_SYSTEM
from party_common.bundles import searchset
from party_common.fhir_json import FhirResponse
from party_common.identifiers import split_token
from party_common.outcome import not_found

from .deps import SessionDep, TrustDep, trust_base
from .models import Referral
from .referral_handlers import referral_resource
from .search_params import count_param, offset_param, single

router = APIRouter()


@router.get("/{ods}/ServiceRequest")
async def search_referrals(trust: TrustDep, request: Request, session: SessionDep):
    params = request.query_params
    count = count_param(params, default=100, maximum=1000)
    offset = offset_param(params)
    identifier = single(params, "identifier")
    conditions = [Referral.ods == trust.ods]
    if identifier is not None:
        system, value = split_token(identifier)
        if system not in (None, REFERRAL_SYSTEM):
            value = None
        conditions.append(Referral.referral_id == value)
    total = await session.scalar(select(func.count()).select_from(Referral).where(*conditions))
    rows = (await session.scalars(select(Referral).where(*conditions)
                                  .order_by(Referral.created_at, Referral.id).offset(offset).limit(count))).all() \
        if count else []
    return FhirResponse(searchset([referral_resource(r) for r in rows], total=total,
                                  base_url=trust_base(request, trust), path="ServiceRequest",
                                  params={"identifier": identifier}, offset=offset, count=count or None))


@router.get("/{ods}/ServiceRequest/{referral_row}")
async def read_referral(trust: TrustDep, referral_row: str, session: SessionDep):
    row = await session.get(Referral, referral_row) if len(referral_row) <= 36 else None
    if row is None or row.ods != trust.ods:
        raise not_found(f"no ServiceRequest/{referral_row} at {trust.ods}")
    return FhirResponse(referral_resource(row))
