"""The one shape of a booking that every party reads and writes: an Appointment plus its context.

Broker, trust PAS, spine index and GP system all describe a booking with the same Appointment, so
reconciliation can compare like with like. Facts FHIR has no element for ride on extensions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM, UBRN_SYSTEM
from .messaging import message_bundle
from .outcome import FhirError

EXTENSION_BASE = "https://fhir.nhs-interop-testbed.invalid/StructureDefinition/"
PERFORMER_EXT = EXTENSION_BASE + "performer-ods"
REFERRER_EXT = EXTENSION_BASE + "referrer-ods"
REFERRAL_SYSTEM = "https://fhir.nhs-interop-testbed.invalid/Id/referral"


@dataclass
class BookingFacts:
    ubrn: str | None
    nhs_number: str
    trust_ods: str | None
    gp_ods: str | None
    service_id: str
    slot_id: str
    start: str | None
    end: str | None
    status: str = "booked"
    specialty: str | None = None
    appointment_id: str | None = None
    referral_id: str | None = None


def appointment_resource(f: BookingFacts) -> dict:
    appt: dict = {"resourceType": "Appointment"}
    if f.appointment_id:
        appt["id"] = f.appointment_id
    ext = []
    if f.trust_ods:
        ext.append({"url": PERFORMER_EXT, "valueIdentifier": {"system": ODS_SYSTEM, "value": f.trust_ods}})
    if f.gp_ods:
        ext.append({"url": REFERRER_EXT, "valueIdentifier": {"system": ODS_SYSTEM, "value": f.gp_ods}})
    if ext:
        appt["extension"] = ext
    if f.ubrn:
        appt["identifier"] = [{"system": UBRN_SYSTEM, "value": f.ubrn}]
    appt["status"] = f.status
    if f.specialty:
        appt["serviceType"] = [{"coding": [{"system": SPECIALTY_SYSTEM, "code": f.specialty}]}]
    if f.start:
        appt["start"] = f.start
    if f.end:
        appt["end"] = f.end
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
    specialty = None
    for st in appt.get("serviceType") or []:
        for c in st.get("coding") or []:
            if c.get("system") == SPECIALTY_SYSTEM:
                specialty = c.get("code")
    referral = next((b.get("identifier", {}).get("value") for b in appt.get("basedOn") or []
                     if (b.get("identifier") or {}).get("system") == REFERRAL_SYSTEM), None)
    return BookingFacts(
        ubrn=ubrn, nhs_number=nhs, trust_ods=_ext(appt, PERFORMER_EXT), gp_ods=_ext(appt, REFERRER_EXT),
        service_id=service, slot_id=slot_ref.split("/", 1)[1], start=appt.get("start"), end=appt.get("end"),
        status=appt.get("status", "booked"), specialty=specialty, appointment_id=appt.get("id"),
        referral_id=referral,
    )


def patient_stub(nhs_number: str) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}]}


def booking_message(event: str, facts: BookingFacts, *, source_endpoint: str, destination_endpoint: str,
                    sender_ods: str | None, receiver_ods: str | None, bundle_id: str | None = None,
                    header_id: str | None = None, reason: str = "new") -> dict:
    """A BaRS-shaped booking-request or booking-cancel: Appointment (focus) and Patient."""
    return message_bundle(
        event, [appointment_resource(facts), patient_stub(facts.nhs_number)],
        source_endpoint=source_endpoint, destination_endpoint=destination_endpoint,
        sender_ods=sender_ods, receiver_ods=receiver_ods, reason=reason,
        bundle_id=bundle_id, header_id=header_id,
    )


def booking_from_message(msg, require_ubrn: bool = True) -> BookingFacts:
    """The booking carried by a message: its focus Appointment."""
    appt = msg.focus
    index = None
    for i, entry in enumerate(msg.bundle.get("entry", [])):
        if entry.get("resource") is appt:
            index = i
    where = f"Bundle.entry[{index}].resource" if index is not None else "Bundle.entry"
    if not appt or appt.get("resourceType") != "Appointment":
        raise FhirError(422, "required", "the message's focus must be an Appointment",
                        ["Bundle.entry[0].resource.focus"])
    return read_appointment(appt, where=where, require_ubrn=require_ubrn)
