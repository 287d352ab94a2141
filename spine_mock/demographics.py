"""Demographics: read and search the synthetic patients (a PDS stand-in)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import bindparam, select

from party_common.bundles import searchset
from party_common.database import Database
from party_common.fhir_json import FhirResponse
from party_common.identifiers import NHS_NUMBER_SYSTEM, is_valid_nhs_number, split_token
from party_common.outcome import invalid, not_found
from party_common.population import SyntheticPatient

from .dependencies import DbDep
from .models import Patient

router = APIRouter()


# Built once, on the table rather than the mapped class: Core rows, no ORM machinery per request.
_BY_NHS_NUMBER = select(Patient.__table__).where(Patient.__table__.c.nhs_number == bindparam("nhs_number"))


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


@router.get("/Patient")
async def search_patients(request: Request, db: DbDep, identifier: str | None = None):
    if not identifier:
        raise invalid(f"search needs identifier={NHS_NUMBER_SYSTEM}|<NHS number>", "identifier")
    system, value = split_token(identifier)
    if system is not None and system != NHS_NUMBER_SYSTEM:
        raise invalid(f"identifier system must be {NHS_NUMBER_SYSTEM}, got {system}", "identifier")
    found: list[dict] = []
    # A value that cannot be an NHS number matches no one; no need to ask the database.
    if is_valid_nhs_number(value):
        row = await find_patient(db, value)
        if row is not None:
            found.append(patient_resource(row))
    return FhirResponse(searchset(found, total=len(found), base_url=str(request.base_url), path="Patient",
                                  params={"identifier": identifier}))
