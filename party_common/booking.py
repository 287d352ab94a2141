"""The one shape of a booking that every party reads and writes.

On the wire a booking is a BaRS message: the Appointment (the focus) with its Patient, Slot, Schedule,
HealthcareService and Organizations as entries of the Bundle, each referenced by `urn:uuid`
(`booking_message`, `read_booking`). Over REST (searches, reads, exports) it is one Appointment with
literal references, the same for broker, trust PAS, spine index and GP system, so reconciliation can
compare like with like; facts FHIR has no element for ride on extensions there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar, overload

from party_common.identifiers import (
    DOS_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    SPECIALTY_SYSTEM,
    UBRN_SYSTEM,
    canonical_system,
    dos_id,
    dos_token,
    identifier_value,
)
from party_common.messaging import BOOKING_CANCEL, Message, MessageBuilder, Org, profiled
from party_common.outcome import FhirError

EXTENSION_BASE = "https://fhir.nhs-interop-testbed.invalid/StructureDefinition/"
PERFORMER_EXT = EXTENSION_BASE + "performer-ods"
REFERRER_EXT = EXTENSION_BASE + "referrer-ods"
REFERRAL_SYSTEM = "https://fhir.nhs-interop-testbed.invalid/Id/referral"

T = TypeVar("T")


@dataclass
class BookingFacts:
    ubrn: str | None
    nhs_number: str
    trust_ods: str | None
    gp_ods: str | None
    service_id: str | None
    slot_id: str | None
    start: str | None
    end: str | None
    status: str = "booked"
    specialty: str | None = None
    appointment_id: str | None = None
    referral_id: str | None = None
    service_dos: str | None = None

    def service_dos_id(self) -> str:
        """The booked service's DoS id: the one the message carried, else the testbed's for its id."""
        if self.service_dos:
            return self.service_dos
        if not self.service_id:
            raise ValueError("a booking that names no service has no DoS id")
        return service_dos(self.service_id)


@dataclass
class HeldBooking(BookingFacts):
    """A booking a party has taken on: unlike a message's facts, its UBRN, trust, practice, service
    and slot are known."""

    ubrn: str
    trust_ods: str
    gp_ods: str
    service_id: str
    slot_id: str

    @classmethod
    def of(cls, facts: BookingFacts, *, ubrn: str, trust_ods: str, gp_ods: str, service_id: str,
           slot_id: str) -> HeldBooking:
        return copied_as(cls, facts, ubrn=ubrn, trust_ods=trust_ods, gp_ods=gp_ods, service_id=service_id,
                         slot_id=slot_id)


def copied_as(cls: Callable[..., T], facts: Any, **known: str) -> T:
    """`facts` (a dataclass) copied into a `cls` with the fields `known` set: how a message's facts
    become the facts a party holds."""
    return cls(**{**{f.name: getattr(facts, f.name) for f in fields(facts)}, **known})


def _specialty_and_referral(appt: dict) -> tuple[str | None, str | None]:
    """The specialty (serviceType) and the practice's referral id (basedOn) of an Appointment."""
    specialty = next((c.get("code") for st in appt.get("serviceType") or [] for c in st.get("coding") or []
                      if c.get("system") == SPECIALTY_SYSTEM), None)
    referral = next((b.get("identifier", {}).get("value") for b in appt.get("basedOn") or []
                     if (b.get("identifier") or {}).get("system") == REFERRAL_SYSTEM), None)
    return specialty, referral


def _appointment(f: BookingFacts) -> dict:
    return {"resourceType": "Appointment", "id": f.appointment_id} if f.appointment_id else \
        {"resourceType": "Appointment"}


def _appointment_facts(appt: dict, f: BookingFacts) -> None:
    """What both shapes say alike: UBRN, status, specialty, times."""
    if f.ubrn:
        appt["identifier"] = [{"system": UBRN_SYSTEM, "value": f.ubrn}]
    appt["status"] = f.status
    if f.specialty:
        appt["serviceType"] = [{"coding": [{"system": SPECIALTY_SYSTEM, "code": f.specialty}]}]
    if f.start:
        appt["start"] = f.start
    if f.end:
        appt["end"] = f.end


def appointment_resource(f: BookingFacts) -> dict:
    appt = _appointment(f)
    ext = []
    if f.trust_ods:
        ext.append({"url": PERFORMER_EXT, "valueIdentifier": {"system": ODS_SYSTEM, "value": f.trust_ods}})
    if f.gp_ods:
        ext.append({"url": REFERRER_EXT, "valueIdentifier": {"system": ODS_SYSTEM, "value": f.gp_ods}})
    if ext:
        appt["extension"] = ext
    _appointment_facts(appt, f)
    appt["slot"] = [{"reference": f"Slot/{f.slot_id}"}]
    appt["participant"] = [
        {"actor": {"type": "Patient", "identifier": {"system": NHS_NUMBER_SYSTEM, "value": f.nhs_number}},
         "status": "accepted"},
        {"actor": {"type": "HealthcareService", "reference": f"HealthcareService/{f.service_id}"},
         "status": "accepted"},
    ]
    if f.referral_id:
        appt["basedOn"] = [{"type": "ServiceRequest",
                            "identifier": {"system": REFERRAL_SYSTEM, "value": f.referral_id}}]
    return appt


def _ext(appt: dict, url: str) -> str | None:
    for e in appt.get("extension") or []:
        if e.get("url") == url:
            return (e.get("valueIdentifier") or {}).get("value")
    return None


def read_appointment(appt: dict, where: str = "Appointment", require_ubrn: bool = False) -> BookingFacts:
    """Reads a booking Appointment; raises FhirError (422) naming the element at fault."""
    ubrn = next((i.get("value") for i in appt.get("identifier") or [] if i.get("system") == UBRN_SYSTEM), None)
    if require_ubrn and not ubrn:
        raise FhirError(422, "required", f"{where}.identifier must hold a UBRN ({UBRN_SYSTEM})",
                        [f"{where}.identifier"])
    nhs = service = None
    for p in appt.get("participant") or []:
        actor = p.get("actor") or {}
        ident = actor.get("identifier") or {}
        if ident.get("system") == NHS_NUMBER_SYSTEM:
            nhs = ident.get("value")
        ref = actor.get("reference") or ""
        if ref.startswith("HealthcareService/"):
            service = ref.split("/", 1)[1]
    if not nhs:
        raise FhirError(422, "required", f"{where}.participant must name the patient by NHS number",
                        [f"{where}.participant"])
    if not service:
        raise FhirError(422, "required", f"{where}.participant must reference the HealthcareService",
                        [f"{where}.participant"])
    slot_ref = ((appt.get("slot") or [{}])[0]).get("reference") or ""
    if not slot_ref.startswith("Slot/"):
        raise FhirError(422, "required", f"{where}.slot must reference the booked Slot", [f"{where}.slot"])
    specialty, referral = _specialty_and_referral(appt)
    return BookingFacts(
        ubrn=ubrn, nhs_number=nhs, trust_ods=_ext(appt, PERFORMER_EXT), gp_ods=_ext(appt, REFERRER_EXT),
        service_id=service, slot_id=slot_ref.split("/", 1)[1], start=appt.get("start"), end=appt.get("end"),
        status=appt.get("status", "booked"), specialty=specialty, appointment_id=appt.get("id"),
        referral_id=referral,
    )


# -- the parties, as messages name them ---------------------------------------------------------

SPINE_ODS = "X26"


# An ODS code gives an Org and no code gives None, so a caller holding a code needs no None check.
@overload
def practice_org(ods: str, name: str | None = None) -> Org: ...
@overload
def practice_org(ods: str | None, name: str | None = None) -> Org | None: ...
def practice_org(ods: str | None, name: str | None = None) -> Org | None:
    return Org(ods, dos_id("practice", ods), name) if ods else None


@overload
def trust_org(ods: str, name: str | None = None) -> Org: ...
@overload
def trust_org(ods: str | None, name: str | None = None) -> Org | None: ...
def trust_org(ods: str | None, name: str | None = None) -> Org | None:
    return Org(ods, dos_id("trust", ods), name) if ods else None


def service_dos(service_id: str) -> str:
    return dos_id("service", service_id)


SPINE = Org(SPINE_ODS, dos_id("spine", "booking-index"), "National spine (testbed mock)")
# The broker reports bookings to the spine in its own name; ODS codes starting Y are not issued to trusts.
BROKER = Org("YBRKR", dos_id("broker", "booking-broker"), "Booking broker (testbed)")


# -- writing: a booking as BaRS message entries ---------------------------------------------------

def booking_entries(b: MessageBuilder, f: BookingFacts, *, practice: Org | None, trust: Org | None) -> str:
    """Adds the booking's entries (Appointment first) to `b`; returns the Appointment's fullUrl."""
    if f.slot_id and not (f.start and f.end):
        raise ValueError(f"slot {f.slot_id}: a Slot entry needs its start and end")
    if not f.service_id:
        raise ValueError("a booking message needs the HealthcareService's id")
    appointment_url = b.urn("appointment")
    patient_url, service_url = b.urn("patient"), b.urn("service")
    appt = _appointment(f)
    appt["meta"] = profiled("Appointment")
    _appointment_facts(appt, f)
    if f.slot_id:
        appt["slot"] = [{"reference": b.urn("slot")}]
    if f.referral_id:
        appt["basedOn"] = [{"type": "ServiceRequest", "identifier": {"system": REFERRAL_SYSTEM, "value": f.referral_id}}]
    appt["participant"] = [{"actor": {"reference": patient_url}, "status": "accepted"},
                           {"actor": {"reference": service_url}, "status": "accepted"}]
    b.add("appointment", appt)

    add_patient(b, f.nhs_number, practice)
    if f.slot_id:
        schedule_url = b.urn("schedule")
        b.add("slot", {"resourceType": "Slot", "id": f.slot_id, "meta": profiled("Slot"),
                       "schedule": {"reference": schedule_url},
                       "status": "free" if f.status == "cancelled" else "busy",
                       "start": f.start, "end": f.end})
        b.add("schedule", {"resourceType": "Schedule", "id": f.service_id, "meta": profiled("Schedule"),
                           "actor": [{"reference": service_url}]})
    add_service(b, f.service_id, f.service_dos, trust)
    return appointment_url


def add_patient(b: MessageBuilder, nhs_number: str, practice: Org | None) -> str:
    """The Patient entry (NHS number; the practice's Organization as generalPractitioner)."""
    patient: dict = {"resourceType": "Patient", "meta": profiled("Patient"),
                     "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}]}
    if practice:
        patient["generalPractitioner"] = [{"reference": b.urn(f"org:{practice.ods}")}]
    url = b.add("patient", patient)
    if practice:
        b.org(practice)
    return url


def add_service(b: MessageBuilder, service_id: str, dos: str | None, trust: Org | None) -> str:
    """The HealthcareService entry (its DoS id; the trust's Organization as providedBy)."""
    service: dict = {"resourceType": "HealthcareService", "id": service_id, "meta": profiled("HealthcareService"),
                     "identifier": [{"system": DOS_SYSTEM, "value": dos or service_dos(service_id)}]}
    if trust:
        service["providedBy"] = {"reference": b.urn(f"org:{trust.ods}")}
    url = b.add("service", service)
    if trust:
        b.org(trust)
    return url


def booking_message(event: str, facts: BookingFacts, *, sender: Org, receiver: Org | None, destination: str,
                    bundle_id: str | None = None, header_id: str | None = None, reason: str | None = None,
                    response: dict | None = None) -> dict:
    """A BaRS booking message (booking-request or booking-cancel, or a response to one).

    `destination` is the endpoint it is addressed to (a DoS token); the sender and receiver are
    Organization entries, the practice the Patient's generalPractitioner, the trust the service's
    providedBy.
    """
    b = MessageBuilder(bundle_id)
    # The focus first after the MessageHeader, as the published examples have it.
    focus = booking_entries(b, facts, practice=practice_org(facts.gp_ods), trust=trust_org(facts.trust_ods))
    sender_url, receiver_url = b.org(sender), (b.org(receiver) if receiver else None)
    if reason is None and response is None:
        reason = "cancel" if event == BOOKING_CANCEL else "new"
    return b.build(event, sender=sender_url, receiver=receiver_url, destination=destination, focus=[focus],
                   source=sender, reason=reason, response=response, header_id=header_id)


def practice_message(event: str, facts: BookingFacts, *, name: str | None = None, bundle_id: str | None = None,
                     header_id: str | None = None) -> dict:
    """A practice's booking-request or booking-cancel, addressed to the service by its DoS id (the
    broker, as BaRS proxy, routes on it)."""
    if not facts.gp_ods:
        raise ValueError("a practice's message needs the practice's ODS code")
    return booking_message(event, facts, sender=practice_org(facts.gp_ods, name), receiver=None,
                           destination=dos_token(facts.service_dos_id()),
                           bundle_id=bundle_id, header_id=header_id)


# -- reading: a booking out of a BaRS message -----------------------------------------------------

@dataclass
class BookingRead:
    """A booking as a message states it, with where each fact stands in the sender's Bundle."""

    facts: BookingFacts          # service_id and slot_id as the message names them (maybe None)
    where: str                   # the Appointment
    msg: Message
    slot_where: str | None = None
    slot_start: str | None = None
    slot_end: str | None = None
    service_keys: tuple[tuple[str | None, str], ...] = ()   # (system, value): entry ids (system None), identifiers
    service_where: str | None = None
    patient_where: str | None = None


def read_booking(msg: Message) -> BookingRead:
    """The booking the message's focus Appointment states; raises FhirError (422) naming the element
    of the sender's Bundle at fault when a required fact is missing."""
    index = msg.focus_index
    appt = msg.entry(index) if index is not None else None
    if index is None or not appt or appt.get("resourceType") != "Appointment":
        raise FhirError(422, "required", "the message's focus must be an Appointment",
                        ["Bundle.entry[0].resource.focus"])
    where = msg.path(index)
    ubrn = identifier_value(appt, UBRN_SYSTEM)

    nhs = gp_ods = patient_where = None
    keys: list[tuple[str | None, str]] = []
    service_where = trust_ods = None
    for i, p in enumerate(appt.get("participant") or []):
        actor = p.get("actor") or {}
        patient = msg.resolve(actor, "Patient")
        if patient and nhs is None:
            nhs = identifier_value(patient[0], NHS_NUMBER_SYSTEM)
            patient_where = f"{msg.path(patient[1])}.identifier"
            if nhs is None:
                raise FhirError(422, "required", f"the Patient has no NHS number ({NHS_NUMBER_SYSTEM})",
                                [f"{msg.path(patient[1])}.identifier"])
            for gp in patient[0].get("generalPractitioner") or []:
                gp_ods = gp_ods or msg.ods_of(gp)
        service = msg.resolve(actor, "HealthcareService")
        if service:
            keys += _service_keys(service[0])
            service_where = msg.path(service[1])
            trust_ods = trust_ods or _provider_ods(msg, service[0])
        elif literal := msg.literal_id(actor, "HealthcareService"):
            keys.append((None, literal))
            service_where = f"{where}.participant[{i}].actor"
    if nhs is None:
        raise FhirError(422, "required", "Appointment.participant must reference the Patient entry, which "
                        "carries the NHS number", [f"{where}.participant"])

    slot_id = slot_start = slot_end = slot_where = None
    slot_ref = (appt.get("slot") or [{}])[0]
    slot = msg.resolve(slot_ref, "Slot")
    if slot:
        res, slot_index = slot
        slot_where = msg.path(slot_index)
        slot_id, slot_start, slot_end = res.get("id"), res.get("start"), res.get("end")
        schedule = msg.resolve(res.get("schedule"), "Schedule")
        for actor in (schedule[0].get("actor") or []) if schedule else []:
            service = msg.resolve(actor, "HealthcareService")
            if service:
                keys = _service_keys(service[0]) + keys
                service_where = msg.path(service[1])
                trust_ods = trust_ods or _provider_ods(msg, service[0])
            elif literal := msg.literal_id(actor, "HealthcareService"):
                keys.insert(0, (None, literal))
    elif msg.literal_id(slot_ref, "Slot"):
        slot_id, slot_where = msg.literal_id(slot_ref, "Slot"), f"{where}.slot[0]"

    specialty, referral = _specialty_and_referral(appt)
    service_id = next((v for s, v in keys if s is None), None)
    service_dos_id = next((v for s, v in keys if s == DOS_SYSTEM), None)
    facts = BookingFacts(
        ubrn=ubrn, nhs_number=nhs, trust_ods=trust_ods,
        # The sender is the practice only on a request; a response comes from the trust.
        gp_ods=gp_ods or (msg.sender_ods if msg.response is None else None),
        service_id=service_id, slot_id=slot_id, start=appt.get("start") or slot_start,
        end=appt.get("end") or slot_end, status=appt.get("status", "booked"), specialty=specialty,
        appointment_id=appt.get("id"), referral_id=referral, service_dos=service_dos_id,
    )
    return BookingRead(facts, where, msg, slot_where, slot_start, slot_end, tuple(keys), service_where,
                       patient_where)


def _service_keys(service: dict) -> list[tuple[str | None, str]]:
    keys: list[tuple[str | None, str]] = []
    if service.get("id"):
        keys.append((None, service["id"]))
    for ident in service.get("identifier") or []:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            keys.append((canonical_system(ident.get("system")), ident["value"]))
    return keys


def _provider_ods(msg: Message, service: dict) -> str | None:
    return msg.ods_of(service.get("providedBy"))


def require(read: BookingRead, *, ubrn: bool = False, ids: bool = False) -> BookingFacts:
    """The facts, with the UBRN and the service and slot ids required where a receiver needs them."""
    f = read.facts
    if ubrn:
        required_ubrn(read)
    if ids and not f.service_id:
        raise FhirError(422, "required", "the booking must name its HealthcareService",
                        [read.service_where or f"{read.where}.participant"])
    if ids and not f.slot_id:
        raise FhirError(422, "required", "the booking's Slot must carry its id",
                        [read.slot_where or f"{read.where}.slot"])
    return f


def required_ubrn(read: BookingRead) -> str:
    """The booking's UBRN, which a receiver of a cancellation (or a report) needs."""
    if not read.facts.ubrn:
        raise FhirError(422, "required", f"the Appointment must carry a UBRN ({UBRN_SYSTEM})",
                        [f"{read.where}.identifier"])
    return read.facts.ubrn
