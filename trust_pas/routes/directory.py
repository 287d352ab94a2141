"""The directory: trusts and their sites, services and schedules, all read from the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.fhir_json import FhirResponse
from party_common.outcome import not_found
from party_common.search import SearchQuery, Token, openapi_parameters

from party_common.trusts import resources
from party_common.trusts.catalogue import Trust
from trust_pas.dependencies import CatalogueDep, TrustDep, trust_base
from trust_pas.listing import codings_match, identifiers_match, list_search, references_match
from trust_pas.searches import HEALTHCARE_SERVICE, LOCATION, ORGANIZATION, SCHEDULE
from trust_pas.trust_resources import site

router = APIRouter()

OrganizationQuery = Annotated[SearchQuery, Depends(ORGANIZATION.dependency)]
LocationQuery = Annotated[SearchQuery, Depends(LOCATION.dependency)]
ServiceQuery = Annotated[SearchQuery, Depends(HEALTHCARE_SERVICE.dependency)]
ScheduleQuery = Annotated[SearchQuery, Depends(SCHEDULE.dependency)]


def _organization_matches(q: SearchQuery, org: dict) -> bool:
    # ODS codes are upper case wherever they are issued; a lower-case one in a query means the same.
    def match(t: Token) -> bool:
        upper = Token(t.system, t.code.upper() if t.code else t.code)
        return t.matches_any_identifier(org["identifier"]) or upper.matches_any_identifier(org["identifier"])

    return q.token_match("identifier", match)


@router.get("/Organization", openapi_extra={"parameters": openapi_parameters(ORGANIZATION)})
async def search_organizations(request: Request, catalogue: CatalogueDep, q: OrganizationQuery):
    """Every hosted trust; its sites follow as included Locations (managingOrganization = the trust)."""
    base = str(request.base_url).rstrip("/")
    found = [org for org in (resources.organization(t) for t in catalogue.trusts.values())
             if _organization_matches(q, org)]

    def sites(page: list[dict]) -> list[dict]:
        return [resources.location(s) for org in page for s in catalogue.trusts[org["id"]].sites]

    def full_url(r: dict) -> str:
        # A site is read under its trust's base, where its fullUrl must lead.
        if r["resourceType"] == "Location":
            return f"{base}/{r['managingOrganization']['identifier']['value']}/Location/{r['id']}"
        return f"{base}/{r['resourceType']}/{r['id']}"

    return FhirResponse(await list_search(q, found, base=base, path="Organization", always_included=sites,
                                          full_url=full_url))


@router.get("/Organization/{ods}")
async def read_organization(trust: TrustDep):
    return FhirResponse(resources.organization(trust))


@router.get("/{ods}/metadata")
async def trust_metadata(trust: TrustDep, request: Request):
    return request.app.state.capabilities[trust.ods]


@router.get("/{ods}/Organization", openapi_extra={"parameters": openapi_parameters(ORGANIZATION)})
async def search_trust_organization(trust: TrustDep, request: Request, q: OrganizationQuery):
    """The trust itself, the one Organization under its base (its services' `providedBy`)."""
    found = [org for org in [resources.organization(trust)] if _organization_matches(q, org)]
    return FhirResponse(await list_search(q, found, base=trust_base(request, trust), path="Organization", trust=trust))


@router.get("/{ods}/Organization/{organization_id}")
async def read_trust_organization(trust: TrustDep, organization_id: str):
    if organization_id != trust.ods:
        raise not_found(f"no Organization/{organization_id} at {trust.ods}")
    return FhirResponse(resources.organization(trust))


@router.get("/{ods}/Location", openapi_extra={"parameters": openapi_parameters(LOCATION)})
async def search_locations(trust: TrustDep, request: Request,
                           q: LocationQuery):
    found = [loc for loc in (resources.location(s) for s in trust.sites)
             if identifiers_match(q, "identifier", loc["identifier"])
             and references_match(q, "organization", [trust.ods])]
    return FhirResponse(await list_search(q, found, base=trust_base(request, trust), path="Location", trust=trust))


@router.get("/{ods}/Location/{site_code}")
async def read_location(trust: TrustDep, site_code: str):
    found = site(trust, site_code)
    if found is None:
        raise not_found(f"no Location/{site_code} at {trust.ods}")
    return FhirResponse(resources.location(found))


def _service_matches(q: SearchQuery, trust: Trust, service: dict) -> bool:
    return (identifiers_match(q, "identifier", service["identifier"])
            and codings_match(q, "specialty", service["type"]) and codings_match(q, "service-type", service["type"])
            and references_match(q, "location", [loc["reference"].split("/", 1)[1] for loc in service["location"]])
            and references_match(q, "organization", [trust.ods]))


@router.get("/{ods}/HealthcareService", openapi_extra={"parameters": openapi_parameters(HEALTHCARE_SERVICE)})
async def search_services(trust: TrustDep, request: Request,
                          q: ServiceQuery):
    found = [s for s in (resources.healthcare_service(s) for s in trust.services.values())
             if _service_matches(q, trust, s)]
    # A response rather than a dict: brokers may ask per booking, and jsonable_encoder is the dearest part.
    return FhirResponse(await list_search(q, found, base=trust_base(request, trust), path="HealthcareService",
                                          trust=trust))


@router.get("/{ods}/HealthcareService/{service_id}")
async def read_service(trust: TrustDep, service_id: str):
    service = trust.services.get(service_id)
    if service is None:
        raise not_found(f"no HealthcareService/{service_id} at {trust.ods}")
    return FhirResponse(resources.healthcare_service(service))


@router.get("/{ods}/Schedule", openapi_extra={"parameters": openapi_parameters(SCHEDULE)})
async def search_schedules(trust: TrustDep, request: Request,
                           q: ScheduleQuery):
    found = [s for s in (resources.schedule(s) for s in trust.services.values())
             if references_match(q, "actor", [a["reference"].split("/", 1)[1] for a in s["actor"]])
             and codings_match(q, "service-type", s["serviceType"])]
    return FhirResponse(await list_search(q, found, base=trust_base(request, trust), path="Schedule", trust=trust))


@router.get("/{ods}/Schedule/{schedule_id}")
async def read_schedule(trust: TrustDep, schedule_id: str):
    service = trust.services.get(schedule_id)
    if service is None:
        raise not_found(f"no Schedule/{schedule_id} at {trust.ods}")
    return FhirResponse(resources.schedule(service))
