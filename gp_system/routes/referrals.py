"""Referrals: ServiceRequests for a registered patient, checked against the spine."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import and_, bindparam, false, or_, select, true

from party_common.booking import REFERRAL_SYSTEM, practice_org, service_dos
from party_common.database import table_of
from party_common.identifiers import dos_token
from party_common.messaging import SERVICEREQUEST_REQUEST, read_message
from party_common.referral import REFERRAL_STATE_EXT, referral_message
from party_common.referral import read_referral as read_referral_message
from party_common.clock import party_clock
from party_common.fhir_json import FHIR_JSON, FhirResponse, read_fhir_body
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, is_valid_nhs_number
from party_common.messaging import now_iso, ods_reference
from party_common.outcome import FhirError, business_rule, invalid, not_found
from party_common.search import SearchQuery, Token, offset_next, openapi_parameters, search_bundle
from party_common.search_sql import identifier_condition, ids_condition, sql_page

from gp_system.dependencies import PRACTICE_NAMES, ClientDep, DbDep, PracticeDep, SessionDep, SettingsDep, practice_base
from gp_system.models import Referral, RegisteredPatient
from gp_system.outbound import send_to_broker, spine_knows_patient
from gp_system.referral_responses import ACCEPTED_STATE, REJECTED_STATE, SENT_STATE
from gp_system.searches import REFERRALS
from gp_system.views import referral_facts

router = APIRouter()

# Built once, on the tables rather than the mapped classes, so they run as plain Core statements.
_PRACTICE_OF = (select(table_of(RegisteredPatient).c.gp_ods)
                .where(table_of(RegisteredPatient).c.nhs_number == bindparam("nhs_number")))
_INSERT_REFERRAL = table_of(Referral).insert()
# Every referral is created active and nothing here changes that (what the trust said is the
# referral-state extension), so a status search compares with this one value.
REFERRAL_STATUS = "active"


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
        status=REFERRAL_STATUS,
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


def referral_resource(row: Referral) -> dict:
    """A referral as REST gives it, in searches and reads alike: the ServiceRequest as created and,
    once sent through the broker, what the trust said of it (extension `referral-state`)."""
    resource = orjson.loads(row.resource)
    if row.referral_state:
        resource["extension"] = [*(e for e in resource.get("extension") or [] if e.get("url") != REFERRAL_STATE_EXT),
                                 {"url": REFERRAL_STATE_EXT, "valueCode": row.referral_state}]
    return resource


def _status_condition(q: SearchQuery):
    codes = q.codes("status")
    return None if codes is None or REFERRAL_STATUS in codes else false()


def _identifier_may_match(q: SearchQuery):
    """A superset of the referrals `identifier` matches, found in the stored text: identifiers are
    the caller's as well as ours, so only the stored resource holds them all."""
    def holds(t: Token):
        return true() if t.code is None else Referral.resource.contains(orjson.dumps(t.code).decode()[1:-1],
                                                                        autoescape=True)
    return and_(*(or_(*map(holds, alternatives)) for alternatives in q.tokens("identifier")))


@router.get("/{ods}/ServiceRequest", openapi_extra={"parameters": openapi_parameters(REFERRALS)})
async def search_referrals(ods: PracticeDep, request: Request, session: SessionDep,
                           q: Annotated[SearchQuery, Depends(REFERRALS.dependency)]):
    """The practice's referrals, oldest first."""
    conditions = (Referral.gp_ods == ods,
                  identifier_condition(q, "patient:identifier", NHS_NUMBER_SYSTEM, Referral.nhs_number),
                  ids_condition(q, Referral.id), _status_condition(q))
    order = (Referral.created_at, Referral.id)
    if q.has("identifier"):
        candidates = (await session.scalars(
            select(Referral).where(*(c for c in conditions if c is not None), _identifier_may_match(q))
            .order_by(*order))).all()
        found = [r for r in candidates if q.token_match(
            "identifier", lambda t, r=r: t.matches_any_identifier(orjson.loads(r.resource).get("identifier")))]
        total = len(found)
        rows = [] if q.total_only else found[q.offset:q.offset + q.count]
    else:
        rows, total = await sql_page(session, q, select(Referral), *conditions, order_by=order)
    return FhirResponse(search_bundle(q, [referral_resource(r) for r in rows], total=total,
                                      base=practice_base(request, ods), path="ServiceRequest",
                                      next_position=offset_next(q, total)))


@router.post("/{ods}/ServiceRequest/{referral_id}/$refer")
async def refer(ods: PracticeDep, referral_id: str, request: Request, db: DbDep, client: ClientDep,
                settings: SettingsDep):
    """Sends the referral to a service as a BaRS servicerequest-request, through the broker."""
    body, _ = await read_fhir_body(request, "Parameters")
    service = next((p.get("valueString") or p.get("valueId") for p in body.get("parameter") or []
                    if p.get("name") == "service"), None)
    if not service:
        raise invalid("Parameters must hold 'service' (the id of the HealthcareService referred to)",
                      "Parameters.parameter")
    async with db.writing() as session:
        row = (await session.execute(select(Referral).where(Referral.id == referral_id, Referral.gp_ods == ods))
               ).scalar_one_or_none()
        if row is None:
            raise not_found(f"no referral {referral_id} at practice {ods}")
        if row.referral_state in (ACCEPTED_STATE, REJECTED_STATE):
            raise business_rule(f"referral {referral_id} was already answered by its trust ({row.referral_state})")
        # The same message again while its fate is unknown: the broker answers a repeat from its store.
        row.refer_bundle_id = row.refer_bundle_id if row.service_id == service and row.refer_bundle_id \
            else str(uuid.uuid4())
        row.service_id, row.referral_state = service, SENT_STATE
        bundle_id = row.refer_bundle_id
        facts = referral_facts(row)
    message = referral_message(SERVICEREQUEST_REQUEST, facts, sender=practice_org(ods, PRACTICE_NAMES.get(ods)),
                               receiver=None, destination=dos_token(service_dos(service)), bundle_id=bundle_id,
                               header_id=str(uuid.uuid5(uuid.UUID(bundle_id), "header")))
    answer, raw = await send_to_broker(client, settings.broker_url, message)
    trust = read_referral_message(read_message(answer)).facts.trust_ods
    async with db.writing() as session:
        row = await session.get(Referral, referral_id)
        if row is not None:  # else removed by a control reset meanwhile
            row.trust_ods = row.trust_ods or trust
    return Response(raw, media_type=FHIR_JSON)


@router.get("/{ods}/ServiceRequest/{referral_id}")
async def read_referral(ods: PracticeDep, referral_id: str, session: SessionDep):
    row = (await session.execute(
        select(Referral).where(Referral.id == referral_id, Referral.gp_ods == ods)
    )).scalar_one_or_none()
    if row is None:
        raise not_found(f"no referral {referral_id[:64]} at practice {ods}")
    if row.referral_state is None:
        # Stored as the JSON we answered with: no re-serialisation on the read path.
        return Response(row.resource, media_type=FhirResponse.media_type)
    return referral_resource(row)
