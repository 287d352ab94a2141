"""A referral as every party reads and writes it: a BaRS `servicerequest-request` (and its
`servicerequest-response`) whose focus is the ServiceRequest, with its Patient, HealthcareService and
Organizations as entries; and, over REST, one ServiceRequest with literal references.

A referral is known everywhere by its identifier in `REFERRAL_SYSTEM` (the practice's referral id).
"""

from __future__ import annotations

from dataclasses import dataclass

from party_common.booking import REFERRAL_SYSTEM, add_patient, add_service, copied_as, practice_org, trust_org
from party_common.identifiers import (
    DOS_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    SPECIALTY_SYSTEM,
    canonical_system,
    identifier_value,
)
from party_common.messaging import Message, MessageBuilder, Org, profiled
from party_common.outcome import FhirError

# What a trust says of a referral (ServiceRequest.status): received and being acted on, or refused.
ACCEPTED, REVOKED = "active", "revoked"
# On a referral read over REST (broker ledger, practice): what the trust answered (sent, accepted, rejected).
REFERRAL_STATE_EXT = "https://fhir.nhs-interop-testbed.invalid/StructureDefinition/referral-state"


@dataclass
class ReferralFacts:
    referral_id: str
    nhs_number: str
    gp_ods: str | None
    service_id: str | None
    trust_ods: str | None
    specialty: str | None = None
    status: str = "active"
    service_dos: str | None = None


@dataclass
class HeldReferral(ReferralFacts):
    """A referral a party has routed: unlike a message's facts, its practice, trust and service are known."""

    gp_ods: str
    service_id: str
    trust_ods: str

    @classmethod
    def of(cls, facts: ReferralFacts, *, gp_ods: str, service_id: str, trust_ods: str) -> HeldReferral:
        return copied_as(cls, facts, gp_ods=gp_ods, service_id=service_id, trust_ods=trust_ods)


def referral_entries(b: MessageBuilder, f: ReferralFacts) -> str:
    """Adds the referral's entries (ServiceRequest first) to `b`; returns the ServiceRequest's fullUrl."""
    practice, trust = practice_org(f.gp_ods), trust_org(f.trust_ods)
    request_url, patient_url, service_url = b.urn("servicerequest"), b.urn("patient"), b.urn("service")
    sr: dict = {"resourceType": "ServiceRequest", "meta": profiled("ServiceRequest"),
                "identifier": [{"system": REFERRAL_SYSTEM, "value": f.referral_id}],
                "status": f.status, "intent": "order", "subject": {"reference": patient_url}}
    if f.specialty:
        # performerType, not code: the wanted specialty is the kind of performer asked for.
        sr["performerType"] = {"coding": [{"system": SPECIALTY_SYSTEM, "code": f.specialty}]}
    if practice:
        sr["requester"] = {"reference": b.urn(f"org:{practice.ods}")}
    if f.service_id:
        sr["performer"] = [{"reference": service_url}]
    b.add("servicerequest", sr)
    add_patient(b, f.nhs_number, practice)
    if f.service_id:
        add_service(b, f.service_id, f.service_dos, trust)
    elif trust:
        b.org(trust)
    return request_url


def referral_message(event: str, facts: ReferralFacts, *, sender: Org, receiver: Org | None, destination: str,
                     bundle_id: str | None = None, header_id: str | None = None,
                     response: dict | None = None) -> dict:
    b = MessageBuilder(bundle_id)
    focus = referral_entries(b, facts)
    sender_url, receiver_url = b.org(sender), (b.org(receiver) if receiver else None)
    return b.build(event, sender=sender_url, receiver=receiver_url, destination=destination, focus=[focus],
                   source=sender, reason=None if response else "new", response=response, header_id=header_id)


@dataclass
class ReferralRead:
    facts: ReferralFacts
    where: str
    service_keys: tuple[tuple[str | None, str], ...] = ()
    service_where: str | None = None


def read_referral(msg: Message) -> ReferralRead:
    """The referral the message's focus ServiceRequest states; FhirError (422) names what is missing."""
    index = msg.focus_index
    sr = msg.entry(index) if index is not None else None
    if not sr or sr.get("resourceType") != "ServiceRequest":
        # A response may focus on what the trust did (an Encounter) and carry the ServiceRequest beside it.
        index = msg.first_index("ServiceRequest")
        sr = msg.entry(index) if index is not None else None
    if index is None or not sr:
        raise FhirError(422, "required", "the message must carry the ServiceRequest (as its focus)",
                        ["Bundle.entry[0].resource.focus"], bars_code="REC_UNPROCESSABLE_ENTITY")
    where = msg.path(index)
    referral_id = identifier_value(sr, REFERRAL_SYSTEM) or sr.get("id") or msg.bundle_id
    patient = msg.resolve(sr.get("subject"), "Patient")
    nhs = gp_ods = None
    if patient:
        nhs = identifier_value(patient[0], NHS_NUMBER_SYSTEM)
        for gp in patient[0].get("generalPractitioner") or []:
            gp_ods = gp_ods or msg.ods_of(gp)
    if not nhs:
        raise FhirError(422, "required", "ServiceRequest.subject must reference the Patient entry, which carries "
                        "the NHS number", [f"{where}.subject"], bars_code="REC_UNPROCESSABLE_ENTITY")
    gp_ods = gp_ods or msg.ods_of(sr.get("requester")) or msg.sender_ods
    keys: list[tuple[str | None, str]] = []
    service_where = trust_ods = None
    for performer in sr.get("performer") or []:
        service = msg.resolve(performer, "HealthcareService")
        if service:
            res, service_index = service
            service_where = msg.path(service_index)
            if res.get("id"):
                keys.append((None, res["id"]))
            keys += [(canonical_system(x.get("system")), x["value"]) for x in res.get("identifier") or []
                     if isinstance(x.get("value"), str)]
            trust_ods = trust_ods or msg.ods_of(res.get("providedBy"))
        else:
            trust_ods = trust_ods or msg.ods_of(performer)
    specialty = next((c.get("code") for c in (sr.get("performerType") or {}).get("coding") or []
                      if c.get("system") == SPECIALTY_SYSTEM), None)
    facts = ReferralFacts(referral_id=referral_id, nhs_number=nhs, gp_ods=gp_ods,
                          service_id=next((v for s, v in keys if s is None), None), trust_ods=trust_ods,
                          specialty=specialty, status=sr.get("status", "active"),
                          service_dos=next((v for s, v in keys if s == DOS_SYSTEM), None))
    return ReferralRead(facts, where, tuple(keys), service_where)


def service_request_resource(f: ReferralFacts, resource_id: str | None = None) -> dict:
    """The REST shape of a referral: literal and logical references, no Bundle around it."""
    sr: dict = {"resourceType": "ServiceRequest"}
    if resource_id:
        sr["id"] = resource_id
    sr["identifier"] = [{"system": REFERRAL_SYSTEM, "value": f.referral_id}]
    sr["status"], sr["intent"] = f.status, "order"
    sr["subject"] = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": f.nhs_number}}
    if f.specialty:
        sr["performerType"] = {"coding": [{"system": SPECIALTY_SYSTEM, "code": f.specialty}]}
    if f.gp_ods:
        sr["requester"] = {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": f.gp_ods}}
    performer: list[dict] = []
    if f.service_id:
        performer.append({"reference": f"HealthcareService/{f.service_id}"})
    if f.trust_ods:
        performer.append({"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": f.trust_ods}})
    if performer:
        sr["performer"] = performer
    return sr


def read_service_request(sr: dict) -> ReferralFacts:
    """A REST ServiceRequest (as `service_request_resource` writes it) read back."""
    referral_id = next((i.get("value") for i in sr.get("identifier") or [] if i.get("system") == REFERRAL_SYSTEM),
                       None) or sr.get("id")
    nhs = ((sr.get("subject") or {}).get("identifier") or {}).get("value")
    gp = ((sr.get("requester") or {}).get("identifier") or {}).get("value")
    service = trust = None
    for p in sr.get("performer") or []:
        ref = p.get("reference") or ""
        if ref.startswith("HealthcareService/"):
            service = ref.split("/", 1)[1]
        elif (p.get("identifier") or {}).get("system") == ODS_SYSTEM:
            trust = p["identifier"].get("value")
    specialty = next((c.get("code") for c in (sr.get("performerType") or {}).get("coding") or []
                      if c.get("system") == SPECIALTY_SYSTEM), None)
    if not referral_id:
        raise FhirError(422, "required", f"ServiceRequest.identifier must hold the referral id ({REFERRAL_SYSTEM})",
                        ["ServiceRequest.identifier"])
    if not nhs:
        raise FhirError(422, "required", "ServiceRequest.subject must name the patient by NHS number",
                        ["ServiceRequest.subject"])
    return ReferralFacts(referral_id=referral_id, nhs_number=nhs, gp_ods=gp, service_id=service, trust_ods=trust,
                         specialty=specialty, status=sr.get("status", "active"))
