"""The service directory over every trust: HealthcareService search and read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.fhir_json import FhirResponse
from party_common.identifiers import ODS_SYSTEM, SPECIALTY_SYSTEM
from party_common.outcome import not_found
from party_common.search import SearchQuery, gather, offset_next, openapi_parameters, search_bundle
from party_common.search.tokens import reference_id

from booking_broker.dependencies import DirectoryDep
from booking_broker.directory import Directory, Service
from booking_broker.searches import HEALTHCARE_SERVICE
from booking_broker.trust_reads import UNANSWERED, is_fhir_id

router = APIRouter()
ServiceQuery = Annotated[SearchQuery, Depends(HEALTHCARE_SERVICE.dependency)]


def _provider(resource: dict) -> set[str]:
    """What `organization` may name the provider by: its reference's id and its ODS code."""
    by = resource.get("providedBy") or {}
    names = {reference_id(by["reference"], "Organization")} if isinstance(by.get("reference"), str) else set()
    ident = by.get("identifier") or {}
    if ident.get("system") == ODS_SYSTEM and ident.get("value"):
        names.add(ident["value"])
    return names


def _matches(q: SearchQuery, svc: Service, ids: set[str] | None) -> bool:
    res = svc.resource
    return ((ids is None or svc.id in ids)
            and q.token_match("identifier", lambda t: t.matches_any_identifier(res.get("identifier")))
            and q.token_match("specialty", lambda t: t.matches(SPECIALTY_SYSTEM, svc.specialty)
                              or any(t.matches_coding(c) for c in res.get("specialty") or []))
            and q.token_match("service-type", lambda t: any(t.matches_coding(c) for c in res.get("type") or []))
            and all(_provider(res) & wanted for wanted in q.references("organization")))


def entry_urls(directory: Directory, base: str):
    """An entry's fullUrl: the broker's own for what it serves, the PAS's for a trust's Organization."""
    def full_url(resource: dict) -> str:
        if resource.get("resourceType") == "Organization" and resource.get("id") in directory.organizations:
            return directory.organizations[resource["id"]][1]
        return f"{base}/{resource['resourceType']}/{resource['id']}"
    return full_url


@router.get("/HealthcareService", openapi_extra={"parameters": openapi_parameters(HEALTHCARE_SERVICE)})
async def healthcare_services(request: Request, directory: DirectoryDep, q: ServiceQuery):
    await directory.ensure_loaded()
    ids = q.ids()
    found = [s for s in directory.services.values() if _matches(q, s, ids)]
    # By id unless asked otherwise, and ties broken by id, so pages are stable.
    found.sort(key=lambda s: s.id)
    for key, desc in reversed(q.sort):
        found.sort(key=(lambda s: s.id) if key == "_id" else (lambda s: s.resource.get("name") or ""), reverse=desc)
    page = [s.resource for s in found[q.offset:q.offset + q.count]]

    async def resolve(kind: str, rid: str) -> dict | None:
        org = directory.organizations.get(rid) if kind == "Organization" else None
        return org[0] if org else None

    included = await gather(page, q.includes, resolve)
    base = str(request.base_url).rstrip("/")
    return FhirResponse(search_bundle(q, page, total=len(found), base=base, path="HealthcareService",
                                      next_position=offset_next(q, len(found)), included=included,
                                      full_url=entry_urls(directory, base)))


@router.get("/HealthcareService/{service_id}", responses=UNANSWERED)
async def read_healthcare_service(service_id: str, directory: DirectoryDep):
    # An id that cannot be one is not worth a fresh read of every trust's directory.
    svc = await directory.service(service_id) if is_fhir_id(service_id) else None
    if svc is None:
        raise not_found(f"no trust offers HealthcareService/{service_id}")
    return FhirResponse(svc.resource)
