"""Referrals: ServiceRequests for a registered patient, checked against the spine."""

from __future__ import annotations

import uuid

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import bindparam, select

from party_common.booking import REFERRAL_SYSTEM
from party_common.clock import party_clock
from party_common.fhir_json import FHIR_JSON, FhirResponse, read_fhir_body
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, is_valid_nhs_number
from party_common.messaging import now_iso, ods_reference
from party_common.outcome import FhirError, business_rule, invalid, not_found

from ..deps import ClientDep, DbDep, PracticeDep, SessionDep, SettingsDep
from ..models import Referral, RegisteredPatient
from ..outbound import spine_knows_patient

router = APIRouter()

# Built once, on the tables rather than the mapped classes, so they run as plain Core statements.
_PRACTICE_OF = (select(RegisteredPatient.__table__.c.gp_ods)
                .where(RegisteredPatient.__table__.c.nhs_number == bindparam("nhs_number")))
_INSERT_REFERRAL = Referral.__table__.insert()


def _nhs_number(body: dict) -> str:
    ident = (body.get("subject") or {}).get("identifier") or {}
    if ident.get("system") != NHS_NUMBER_SYSTEM or not ident.get("value"):
        raise FhirError(422, "required", f"ServiceRequest.subject must name the patient by an identifier "
                        f"with system {NHS_NUMBER_SYSTEM}", ["ServiceRequest.subject.identifier"])
    value = ident["value"]
    if not is_valid_nhs_number(value):
        raise invalid(f"{value!r} is not a valid NHS number", "ServiceRequest.subject.identifier.value")
    return value


def _specialty(body: dict) -> str:
    for coding in (body.get("code") or {}).get("coding") or []:
        if coding.get("system") == SPECIALTY_SYSTEM and coding.get("code"):
            return coding["code"]
    raise FhirError(422, "required", f"ServiceRequest.code must hold a coding with system {SPECIALTY_SYSTEM}",
                    ["ServiceRequest.code"])


@router.post("/{ods}/ServiceRequest", status_code=201)
async def create_referral(ods: PracticeDep, request: Request, db: DbDep, client: ClientDep,
                          settings: SettingsDep):
    body, _ = await read_fhir_body(request, "ServiceRequest")
    nhs = _nhs_number(body)
    specialty = _specialty(body)
    async with db.engine.connect() as conn:
        registered_at = (await conn.execute(_PRACTICE_OF, {"nhs_number": nhs})).scalar_one_or_none()
    if registered_at != ods:
        raise business_rule(f"patient {nhs} is not registered at practice {ods}", "ServiceRequest.subject")
    # Checked only after the local rule: no spine round trip for a request we refuse anyway.
    if not await spine_knows_patient(client, settings.spine_url, nhs):
        raise business_rule(f"NHS number {nhs} is not known to the spine", "ServiceRequest.subject")

    referral_id = str(uuid.uuid4())
    now = party_clock().now()
    resource = {k: v for k, v in body.items() if k not in ("meta", "text")}
    resource.update(
        id=referral_id,
        meta={"lastUpdated": now_iso()},
        identifier=[*(i for i in body.get("identifier") or [] if i.get("system") != REFERRAL_SYSTEM),
                    {"system": REFERRAL_SYSTEM, "value": referral_id}],
        status="active",
        intent="order",
        requester=ods_reference(ods),
    )
    resource.setdefault("authoredOn", now_iso())
    encoded = orjson.dumps(resource)
    async with db.writing() as session:
        await session.execute(_INSERT_REFERRAL, {"id": referral_id, "gp_ods": ods, "nhs_number": nhs,
                                                 "specialty": specialty, "created_at": now,
                                                 "resource": encoded.decode()})
    location = f"{settings.practice_endpoint(ods)}/ServiceRequest/{referral_id}"
    # The stored text is the answer: encoded once, for the table and the wire alike.
    return Response(encoded, status_code=201, media_type=FHIR_JSON, headers={"Location": location})


@router.get("/{ods}/ServiceRequest/{referral_id}")
async def read_referral(ods: PracticeDep, referral_id: str, session: SessionDep):
    stored = (await session.execute(
        select(Referral.resource).where(Referral.id == referral_id, Referral.gp_ods == ods)
    )).scalar_one_or_none()
    if stored is None:
        raise not_found(f"no referral {referral_id} at practice {ods}")
    # Stored as the JSON we answered with: no re-serialisation on the read path.
    return Response(stored, media_type=FhirResponse.media_type)
