"""The directory: trusts and their sites, services and schedules, all read from the catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Request

from party_common.bundles import searchset
from party_common.fhir_json import FhirResponse
from party_common.identifiers import ODS_SYSTEM, SPECIALTY_SYSTEM, split_token
from party_common.outcome import not_found

from . import resources
from .deps import CatalogueDep, TrustDep, trust_base
from .search_params import single

router = APIRouter()


@router.get("/Organization")
async def search_organizations(request: Request, catalogue: CatalogueDep):
    """Every hosted trust; its sites follow as included Locations (managingOrganization = the trust)."""
    token = single(request.query_params, "identifier")
    trusts = list(catalogue.trusts.values())
    if token is not None:
        system, value = split_token(token)
        trusts = [t for t in trusts if (system in (None, ODS_SYSTEM)) and t.ods == value.upper()]
    base = str(request.base_url).rstrip("/")
    bundle = searchset([resources.organization(t) for t in trusts], total=len(trusts), base_url=base,
                       path="Organization", params={"identifier": token})
    for trust in trusts:
        for site in trust.sites:
            bundle["entry"].append({"fullUrl": f"{base}/{trust.ods}/Location/{site.code}",
                                    "resource": resources.location(site), "search": {"mode": "include"}})
    return bundle


@router.get("/Organization/{ods}")
async def read_organization(trust: TrustDep):
    return resources.organization(trust)


@router.get("/{ods}/metadata")
async def trust_metadata(trust: TrustDep, request: Request):
    return request.app.state.capabilities[trust.ods]


@router.get("/{ods}/Location")
async def search_locations(trust: TrustDep, request: Request):
    found = [resources.location(s) for s in trust.sites]
    return searchset(found, total=len(found), base_url=trust_base(request, trust), path="Location")


@router.get("/{ods}/Location/{site_code}")
async def read_location(trust: TrustDep, site_code: str):
    for site in trust.sites:
        if site.code == site_code:
            return resources.location(site)
    raise not_found(f"no Location/{site_code} at {trust.ods}")


@router.get("/{ods}/HealthcareService")
async def search_services(trust: TrustDep, request: Request):
    token = single(request.query_params, "specialty")
    services = list(trust.services.values())
    if token is not None:
        system, code = split_token(token)
        services = [s for s in services if system in (None, SPECIALTY_SYSTEM) and s.specialty == code]
    found = [resources.healthcare_service(s) for s in services]
    # A response rather than a dict: brokers may ask per booking, and jsonable_encoder is the dearest part.
    return FhirResponse(searchset(found, total=len(found), base_url=trust_base(request, trust),
                                  path="HealthcareService", params={"specialty": token}))


@router.get("/{ods}/HealthcareService/{service_id}")
async def read_service(trust: TrustDep, service_id: str):
    service = trust.services.get(service_id)
    if service is None:
        raise not_found(f"no HealthcareService/{service_id} at {trust.ods}")
    return resources.healthcare_service(service)


@router.get("/{ods}/Schedule")
async def search_schedules(trust: TrustDep, request: Request):
    found = [resources.schedule(s) for s in trust.services.values()]
    return FhirResponse(searchset(found, total=len(found), base_url=trust_base(request, trust), path="Schedule"))


@router.get("/{ods}/Schedule/{schedule_id}")
async def read_schedule(trust: TrustDep, schedule_id: str):
    service = trust.services.get(schedule_id)
    if service is None:
        raise not_found(f"no Schedule/{schedule_id} at {trust.ods}")
    return resources.schedule(service)
