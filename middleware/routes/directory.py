"""The trusts the middleware stands for, as their FHIR PAS would show them: the root's Organization
listing (so a broker discovers them, BROKER_TRUST_ROOTS), each trust's CapabilityStatement, its
HealthcareServices and Schedules, all from the same catalogue as the FHIR PAS's (party_common/trusts/)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.fhir_json import FhirResponse
from party_common.identifiers import ODS_SYSTEM
from party_common.outcome import not_found
from party_common.search import SearchQuery, offset_next, openapi_parameters, search_bundle
from party_common.trusts import resources

from middleware.dependencies import CatalogueDep, TrustDep, trust_base
from middleware.searches import HEALTHCARE_SERVICE, ORGANIZATION

router = APIRouter()

OrganizationQuery = Annotated[SearchQuery, Depends(ORGANIZATION.dependency)]
ServiceQuery = Annotated[SearchQuery, Depends(HEALTHCARE_SERVICE.dependency)]


def _identified(q: SearchQuery, resource: dict) -> bool:
    return q.token_match("identifier", lambda t: t.matches_any_identifier(resource.get("identifier") or []))


def _listing(q: SearchQuery, found: list[dict], base: str, path: str, full_url=None) -> dict:
    page = found[q.offset:q.offset + q.count] if q.count else []
    return search_bundle(q, page, total=len(found), base=base, path=path, next_position=offset_next(q, len(found)),
                         full_url=full_url)


@router.get("/Organization", openapi_extra={"parameters": openapi_parameters(ORGANIZATION)})
async def search_organizations(request: Request, catalogue: CatalogueDep, q: OrganizationQuery):
    """Every trust the middleware stands for."""
    base = str(request.base_url).rstrip("/")
    found = [org for org in (resources.organization(t) for t in catalogue.trusts.values())
             if q.token_match("identifier", lambda t, org=org: t.matches_any_identifier(org["identifier"])
                              or (t.system in (None, ODS_SYSTEM) and (t.code or "").upper() == org["id"]))]
    return FhirResponse(_listing(q, found, base, "Organization"))


@router.get("/{ods}/HealthcareService", openapi_extra={"parameters": openapi_parameters(HEALTHCARE_SERVICE)})
async def search_services(trust: TrustDep, request: Request, q: ServiceQuery):
    found = [s for s in (resources.healthcare_service(s) for s in trust.services.values()) if _identified(q, s)]
    return FhirResponse(_listing(q, found, trust_base(request, trust), "HealthcareService"))


@router.get("/{ods}/metadata")
async def trust_metadata(trust: TrustDep, request: Request):
    """The trust's CapabilityStatement: its base, its messaging endpoint, what it searches."""
    return request.app.state.capabilities[trust.ods]


@router.get("/Organization/{ods}")
async def read_organization(trust: TrustDep):
    """A trust the root lists, read where the root's fullUrl says."""
    return FhirResponse(resources.catalogued(trust, "Organization", trust.ods))


def _read_route(kind: str) -> None:
    async def read(trust: TrustDep, rid: str):
        found = resources.catalogued(trust, kind, rid)
        if found is None:
            raise not_found(f"no {kind}/{rid} at {trust.ods}")
        return FhirResponse(found)

    read.__doc__ = f"A {kind} of the trust, as the catalogue holds it."
    router.add_api_route(f"/{{ods}}/{kind}/{{rid}}", read, methods=["GET"], name=f"read_{kind.lower()}")


# Every resource a searchset of the trust's refers to can be read where its fullUrl says.
for _kind in ("HealthcareService", "Schedule", "Location", "Organization"):
    _read_route(_kind)
