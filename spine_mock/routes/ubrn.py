"""UBRN allocation: `$allocate-ubrn`, one unique 12-digit UBRN per call for a known patient."""

from __future__ import annotations


import structlog
from fastapi import APIRouter, Request
from sqlalchemy import DateTime, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from party_common.clock import party_clock
from party_common.database import Database, table_of
from party_common.fhir_json import FhirResponse, read_fhir_body
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM, is_valid_nhs_number, ubrn_from_sequence
from party_common.outcome import FhirError, business_rule, invalid

from spine_mock.dependencies import DbDep, SettingsDep
from spine_mock.models import Patient, UbrnAllocation

log = structlog.get_logger("ubrn")
router = APIRouter()

# A collision needs the salt (population seed) changed over a database already holding UBRNs.
_ATTEMPTS = 5

# Insert-from-select checks the patient and draws the sequence in one statement, and makes the
# transaction's first statement a write, so SQLite takes the lock at once instead of failing a stale
# read snapshot. Built once: building them per call costs more than running them.
# Table columns, not mapped attributes: those would send the statements through the ORM's paths.
_ALLOCATIONS, _PATIENTS = table_of(UbrnAllocation), table_of(Patient)
_DRAW = insert(_ALLOCATIONS).from_select(
    ["nhs_number", "allocated_at"],
    select(_PATIENTS.c.nhs_number, bindparam("allocated_at", type_=DateTime(timezone=True)))
    .where(_PATIENTS.c.nhs_number == bindparam("nhs_number")),
).returning(_ALLOCATIONS.c.seq)
_ASSIGN = update(_ALLOCATIONS).where(_ALLOCATIONS.c.seq == bindparam("seq_key")).values(ubrn=bindparam("ubrn"))


def nhs_number_parameter(parameters: dict) -> tuple[str, str]:
    """The `nhsNumber` parameter's value and its expression; raises FhirError 400 when absent or bad."""
    for i, param in enumerate(parameters.get("parameter") or []):
        if param.get("name") != "nhsNumber":
            continue
        where = f"Parameters.parameter[{i}]"
        if "valueString" in param:
            value, where = param["valueString"], f"{where}.valueString"
        elif "valueIdentifier" in param:
            ident = param["valueIdentifier"]
            if ident.get("system") not in (None, NHS_NUMBER_SYSTEM):
                raise invalid(f"nhsNumber identifier system must be {NHS_NUMBER_SYSTEM}",
                              f"{where}.valueIdentifier.system")
            value, where = ident.get("value"), f"{where}.valueIdentifier.value"
            if not value:
                raise invalid("nhsNumber identifier has no value", where, code="required")
        else:
            raise invalid("nhsNumber needs valueString or valueIdentifier", f"{where}.value[x]", code="required")
        if not is_valid_nhs_number(value):
            raise invalid(f"{value!r} is not an NHS number (10 digits, Modulus 11 check digit)", where)
        return value, f"Parameters.parameter[{i}]"
    raise invalid("parameter nhsNumber is required", "Parameters.parameter", code="required")


async def allocate(db: Database, nhs_number: str, salt: int) -> str | None:
    """Allocates and records a UBRN; None when the spine does not know the patient."""
    try:
        return await _allocate(db, nhs_number, salt, careful=False)
    except IntegrityError:
        log.warning("UBRN collision, allocating again past it", nhs_number=nhs_number)
    return await _allocate(db, nhs_number, salt, careful=True)


async def _allocate(db: Database, nhs_number: str, salt: int, *, careful: bool) -> str | None:
    """The fast path takes one draw and lets a collision raise; the careful path isolates each
    assignment in a savepoint, so a colliding draw stays spent (SQLite's AUTOINCREMENT counter rolls
    back with its transaction) and the next draw moves past it."""
    async with db.writing() as session:
        spent: list[int] = []
        for _ in range(_ATTEMPTS if careful else 1):
            draw = {"nhs_number": nhs_number, "allocated_at": party_clock().now()}
            seq = (await session.execute(_DRAW, draw)).scalar_one_or_none()
            if seq is None:
                return None
            ubrn = ubrn_from_sequence(seq, salt=salt)
            assign = {"seq_key": seq, "ubrn": ubrn}
            if careful:
                try:
                    async with session.begin_nested():
                        await session.execute(_ASSIGN, assign)
                except IntegrityError:
                    spent.append(seq)
                    continue
            else:
                await session.execute(_ASSIGN, assign)
            if spent:
                await session.execute(delete(UbrnAllocation).where(UbrnAllocation.seq.in_(spent)))
            return ubrn
        # Raised inside the transaction, so the draws it spent are rolled back with it.
        raise FhirError(409, "conflict", f"no unique UBRN after {_ATTEMPTS} draws")


@router.post("/$allocate-ubrn")
async def allocate_ubrn(request: Request, settings: SettingsDep, db: DbDep):
    parameters, _ = await read_fhir_body(request, "Parameters")
    nhs_number, where = nhs_number_parameter(parameters)
    ubrn = await allocate(db, nhs_number, settings.population_seed)
    if ubrn is None:
        raise business_rule(f"no patient with NHS number {nhs_number}: a UBRN needs a known patient", where)
    return FhirResponse({
        "resourceType": "Parameters",
        "parameter": [{"name": "ubrn", "valueIdentifier": {"system": UBRN_SYSTEM, "value": ubrn}}],
    })
