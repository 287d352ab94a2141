"""Demographics: read and search the synthetic patients (a PDS stand-in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import bindparam, select

from party_common.database import Database, table_of
from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from party_common.outcome import invalid, not_found
from party_common.population import SyntheticPatient
from party_common.search import SearchQuery, openapi_parameters
from party_common.search_sql import day_condition, identifier_condition, ids_condition, sql_searchset, string_condition

from spine_mock.dependencies import DbDep, SessionDep
from spine_mock.models import Patient
from spine_mock.searches import PATIENTS

router = APIRouter()


# Built once, on the table rather than the mapped class: Core rows, no ORM machinery per request.
_BY_NHS_NUMBER = select(table_of(Patient)).where(table_of(Patient).c.nhs_number == bindparam("nhs_number"))


def patient_resource(row) -> dict:
    """A patient row (ORM or Core) as its FHIR Patient."""
    return SyntheticPatient(
        nhs_number=row.nhs_number, family=row.family, given=row.given, gender=row.gender,
        birth_date=row.birth_date, gp_ods=row.gp_ods,
    ).to_fhir()


async def find_patient(db: Database, nhs_number: str):
    async with db.engine.connect() as conn:
        return (await conn.execute(_BY_NHS_NUMBER, {"nhs_number": nhs_number})).first()


@router.get("/Patient/{nhs_number}")
async def read_patient(nhs_number: str, db: DbDep):
    if not is_valid_nhs_number(nhs_number):
        raise invalid(f"{nhs_number!r} is not an NHS number (10 digits, Modulus 11 check digit)", "Patient.id")
    row = await find_patient(db, nhs_number)
    if row is None:
        raise not_found(f"no patient with NHS number {nhs_number}", "Patient.id")
    return FhirResponse(patient_resource(row))


@router.get("/Patient", openapi_extra={"parameters": openapi_parameters(PATIENTS)})
async def search_patients(request: Request, session: SessionDep,
                          q: Annotated[SearchQuery, Depends(PATIENTS.dependency)]):
    return FhirResponse(await sql_searchset(
        session, q, select(Patient),
        identifier_condition(q, "identifier", NHS_NUMBER_SYSTEM, Patient.nhs_number),
        ids_condition(q, Patient.nhs_number),
        string_condition(q, "family", Patient.family),
        day_condition(q, "birthdate", Patient.birth_date),
        order_by=(Patient.nhs_number,), resource=patient_resource, base=str(request.base_url), path="Patient"))
