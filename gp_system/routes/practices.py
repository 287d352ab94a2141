"""The practices hosted and the patients registered with each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM
from party_common.outcome import not_found
from party_common.search import SearchQuery, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import identifier_condition, ids_condition, sql_searchset

from gp_system.dependencies import PRACTICE_NAMES, PracticeDep, SessionDep, practice_base
from gp_system.models import RegisteredPatient
from gp_system.searches import PATIENTS, PRACTICES
from gp_system.views import organization, patient

router = APIRouter()


@router.get("/Organization", openapi_extra={"parameters": openapi_parameters(PRACTICES)})
async def search_practices(request: Request, q: Annotated[SearchQuery, Depends(PRACTICES.dependency)]):
    ids = q.ids()
    found = [org for org in map(organization, PRACTICE_NAMES)
             if (ids is None or org["id"] in ids)
             and q.token_match("identifier", lambda t, org=org: t.matches_any_identifier(org["identifier"]))]
    page = [] if q.total_only else found[q.offset:q.offset + q.count]
    return FhirResponse(search_bundle(q, page, total=len(found), base=str(request.base_url), path="Organization",
                                      next_position=offset_next(q, len(found))))


@router.get("/Organization/{org_id}")
async def read_practice(org_id: str):
    if org_id not in PRACTICE_NAMES:
        raise not_found(f"no practice with ODS code {org_id[:64]!r} is hosted here", "Organization.id")
    return organization(org_id)


@router.get("/{ods}/metadata")
async def practice_metadata(ods: PracticeDep, request: Request):
    return request.app.state.practice_capabilities[ods]


@router.get("/{ods}/Patient", openapi_extra={"parameters": openapi_parameters(PATIENTS)})
async def search_patients(ods: PracticeDep, session: SessionDep, request: Request,
                          q: Annotated[SearchQuery, Depends(PATIENTS.dependency)]):
    return FhirResponse(await sql_searchset(
        session, q, select(RegisteredPatient), RegisteredPatient.gp_ods == ods,
        identifier_condition(q, "identifier", NHS_NUMBER_SYSTEM, RegisteredPatient.nhs_number),
        ids_condition(q, RegisteredPatient.nhs_number),
        order_by=(RegisteredPatient.nhs_number,), resource=patient, base=practice_base(request, ods), path="Patient"))


@router.get("/{ods}/Patient/{nhs_number}")
async def read_patient(ods: PracticeDep, nhs_number: str, session: SessionDep):
    row = (await session.execute(
        select(RegisteredPatient).where(RegisteredPatient.gp_ods == ods, RegisteredPatient.nhs_number == nhs_number)
    )).scalar_one_or_none()
    if row is None:
        raise not_found(f"no patient {nhs_number[:64]} is registered at practice {ods}", "Patient.id")
    return patient(row)
