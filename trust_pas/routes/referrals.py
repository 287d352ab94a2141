"""A trust's referrals, as its PAS holds them: searched, or one by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from party_common.booking import REFERRAL_SYSTEM
from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM
from party_common.outcome import not_found
from party_common.search import SearchQuery, gather, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import codes_condition, identifier_condition, ids_condition, sql_page

from trust_pas.dependencies import SessionDep, TrustDep, trust_base
from trust_pas.models import Referral
from trust_pas.referral_flow import referral_resource
from trust_pas.searches import SERVICE_REQUEST
from trust_pas.trust_resources import resolver

router = APIRouter()
ServiceRequestQuery = Annotated[SearchQuery, Depends(SERVICE_REQUEST.dependency)]


@router.get("/{ods}/ServiceRequest", openapi_extra={"parameters": openapi_parameters(SERVICE_REQUEST)})
async def search_referrals(trust: TrustDep, request: Request, session: SessionDep,
                           q: ServiceRequestQuery):
    """Oldest first (received, then id)."""
    rows, total = await sql_page(
        session, q, select(Referral), Referral.ods == trust.ods,
        identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, Referral.nhs_number),
        identifier_condition(q, "identifier", REFERRAL_SYSTEM, Referral.referral_id),
        identifier_condition(q, "ServiceRequest.identifier", REFERRAL_SYSTEM, Referral.referral_id),
        codes_condition(q, "status", Referral.status),
        ids_condition(q, Referral.id),
        order_by=(Referral.created_at, Referral.id))
    found = [referral_resource(r) for r in rows]
    included = await gather(found, q.includes, resolver(trust)) if found else []
    return FhirResponse(search_bundle(q, found, total=total, base=trust_base(request, trust), path="ServiceRequest",
                                      next_position=offset_next(q, total), included=included))


@router.get("/{ods}/ServiceRequest/{referral_row}")
async def read_referral(trust: TrustDep, referral_row: str, session: SessionDep):
    row = await session.get(Referral, referral_row) if len(referral_row) <= 36 else None
    if row is None or row.ods != trust.ods:
        raise not_found(f"no ServiceRequest/{referral_row} at {trust.ods}")
    return FhirResponse(referral_resource(row))
