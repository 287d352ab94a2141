"""The referral ledger, read over HTTP: one ServiceRequest per referral the broker routed, with what
the trust answered (extension `referral-state`: sent, accepted, rejected)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from party_common.booking import REFERRAL_SYSTEM
from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM
from party_common.outcome import not_found
from party_common.search import SearchQuery, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import identifier_condition, ids_condition, sql_page

from booking_broker.dependencies import DatabaseDep
from booking_broker.models import ReferralEntry
from booking_broker.referral_flow import entry_resource
from booking_broker.searches import SERVICE_REQUEST
from booking_broker.trust_reads import is_fhir_id

router = APIRouter()


def _resource(entry: ReferralEntry) -> dict:
    """The referral with the ledger's key as its id, when that key can be a FHIR id (a practice's
    referral id is its own choice); without one it has no fullUrl, rather than one that cannot be read."""
    sr = entry_resource(entry)
    return {"resourceType": "ServiceRequest", "id": entry.referral_id, **sr} if is_fhir_id(entry.referral_id) else sr


@router.get("/ServiceRequest", openapi_extra={"parameters": openapi_parameters(SERVICE_REQUEST)})
async def referrals(request: Request, db: DatabaseDep, q: Annotated[SearchQuery, Depends(SERVICE_REQUEST.dependency)]):
    desc = any(d for _, d in q.sort)
    async with db.session() as s:
        rows, total = await sql_page(
            s, q, select(ReferralEntry),
            identifier_condition(q, "identifier", REFERRAL_SYSTEM, ReferralEntry.referral_id),
            identifier_condition(q, "ServiceRequest.identifier", REFERRAL_SYSTEM, ReferralEntry.referral_id),
            identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, ReferralEntry.nhs_number),
            ids_condition(q, ReferralEntry.referral_id),
            order_by=(ReferralEntry.referral_id.desc() if desc else ReferralEntry.referral_id,))
        items = [_resource(r) for r in rows]
    return FhirResponse(search_bundle(q, items, total=total, base=str(request.base_url), path="ServiceRequest",
                                      next_position=offset_next(q, total)))


@router.get("/ServiceRequest/{referral_id}")
async def read_referral(referral_id: str, db: DatabaseDep):
    async with db.session() as s:
        entry = await s.get(ReferralEntry, referral_id)
    if entry is None or not is_fhir_id(referral_id):
        raise not_found(f"the broker routed no referral {referral_id[:64]}")
    return FhirResponse(_resource(entry))
