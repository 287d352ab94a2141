"""The messages checks send: synthetic, unique per call (fresh Bundle ids and UBRNs), NHS numbers 999.

Each is a BaRS 1.x message Bundle, written with party_common's builder (`booking_message`) as the
party at the sending end of its link writes it:

| link | sender | receiver | destination.endpoint |
|---|---|---|---|
| practice -> broker (`from_practice`) | the practice | none (the broker routes) | the service's DoS id |
| broker -> PAS (`to_pas`) | the practice (the broker passes its booking on) | the trust | the service's DoS id |
| broker -> spine (`to_spine`) | the broker | the spine | the spine's DoS id |
| broker -> practice (`confirmation`) | the trust | the practice | the practice's DoS id |

The booking travels as entries: the Appointment (the focus, next after the MessageHeader), its
Patient (NHS number, practice as generalPractitioner), Slot (the trust's slot id and times), Schedule,
HealthcareService (id and DoS id, the trust as providedBy) and the Organizations, each referenced by
`urn:uuid`.
"""

from __future__ import annotations

import copy
import random
import uuid

from party_common.booking import (
    BROKER,
    SPINE,
    BookingFacts,
    booking_message,
    practice_org,
    service_dos,
    trust_org,
)
from party_common.identifiers import (DOS_SYSTEM, MESSAGE_EVENT_SYSTEM, canonical_system, is_valid_nhs_number,
                                      nhs_number_from_index)
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Org, definition, header_profile

from .traffic import CONTRACT_UBRN_PREFIX

CONSUMER_ENDPOINT = "https://contract-suite.nhs-interop-testbed.invalid"
_rng = random.SystemRandom()


def fresh_ubrn() -> str:
    """A 12-digit UBRN in the contract suites' range (contracts/traffic.py), unique per call."""
    return CONTRACT_UBRN_PREFIX + f"{_rng.randrange(10**10):010d}"


def test_patient(index: int = 1) -> str:
    """The index-th NHS number of the 999 test range (the first patients of the synthetic population)."""
    while (number := nhs_number_from_index(index)) is None:
        index += 1
    return number


def unknown_patient() -> str:
    """A valid 999-range NHS number no synthetic population of the testbed's sizes reaches."""
    for index in range(999_999, 0, -1):
        number = nhs_number_from_index(index)
        if number and is_valid_nhs_number(number):
            return number
    raise RuntimeError("no NHS number in the test range")


def listed_dos(service: dict) -> str | None:
    """The DoS id a HealthcareService (as a directory or PAS lists it) carries, if any."""
    for ident in service.get("identifier") or []:
        if canonical_system(ident.get("system")) == DOS_SYSTEM and ident.get("value"):
            return ident["value"]
    return None


def booking_facts(*, slot: dict, service_id: str, ubrn: str | None, trust_ods: str | None, gp_ods: str | None,
                  nhs_number: str, specialty: str | None = None, status: str = "booked",
                  service_dos_id: str | None = None, appointment_id: str | None = None,
                  referral_id: str | None = None) -> BookingFacts:
    """A booking of `slot` (a Slot as searched: id, start, end): what a message's entries will state."""
    return BookingFacts(ubrn=ubrn, nhs_number=nhs_number, trust_ods=trust_ods, gp_ods=gp_ods,
                        service_id=service_id, slot_id=slot["id"], start=slot.get("start"), end=slot.get("end"),
                        status=status, specialty=specialty, appointment_id=appointment_id,
                        referral_id=referral_id or f"contract-{uuid.uuid4().hex[:12]}",
                        service_dos=service_dos_id or service_dos(service_id))


def service_endpoint(facts: BookingFacts) -> str:
    """The booked service as BaRS addresses it: `https://fhir.nhs.uk/Id/dos-service-id|<DoS id>`."""
    return f"{DOS_SYSTEM}|{facts.service_dos_id()}"


def _named(org: Org | None, who: str) -> Org:
    """An organisation the message must name: facts without it are a fault in the check that made them."""
    if org is None:
        raise ValueError(f"the booking's facts name no {who}")
    return org


def from_practice(event: str, facts: BookingFacts, *, sender_ods: str | None = None, bundle_id: str | None = None,
                  header_id: str | None = None) -> dict:
    """A practice's booking-request (no UBRN yet) or booking-cancel (by UBRN) to the broker, as its GP
    system sends it: from the practice (`sender_ods`, default the booking's practice), addressed to
    the service's DoS id."""
    return booking_message(event, facts, sender=_named(practice_org(sender_ods or facts.gp_ods), "practice"),
                           receiver=None,
                           destination=service_endpoint(facts), bundle_id=bundle_id, header_id=header_id)


def to_pas(event: str, facts: BookingFacts, *, bundle_id: str | None = None, header_id: str | None = None) -> dict:
    """A booking-request or booking-cancel as the broker passes it to the trust's PAS: from the practice,
    to the trust, addressed to the service's DoS id."""
    return booking_message(event, facts, sender=_named(practice_org(facts.gp_ods), "practice"),
                           receiver=trust_org(facts.trust_ods),
                           destination=service_endpoint(facts), bundle_id=bundle_id, header_id=header_id)


def to_spine(event: str, facts: BookingFacts, *, bundle_id: str | None = None, header_id: str | None = None) -> dict:
    """The broker's report of a booking (or its cancellation) to the spine's booking index."""
    return booking_message(event, facts, sender=BROKER, receiver=SPINE, destination=SPINE.endpoint,
                           bundle_id=bundle_id, header_id=header_id)


def confirmation(event: str, facts: BookingFacts, *, practice: str | None = None, code: str = "ok",
                 request_id: str | None = None, bundle_id: str | None = None, header_id: str | None = None) -> dict:
    """The broker's confirmation to a practice (`practice`, default the booking's): a response message
    naming the practice's request, sent in the trust's name."""
    receiver = _named(practice_org(practice or facts.gp_ods), "practice")
    return booking_message(event, facts, sender=_named(trust_org(facts.trust_ods), "trust"), receiver=receiver,
                           destination=receiver.endpoint,
                           response={"identifier": request_id or str(uuid.uuid4()), "code": code},
                           bundle_id=bundle_id, header_id=header_id)


# -- messages broken in one way ----------------------------------------------------------------------

def header(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def with_event(bundle: dict, code: str) -> dict:
    """The message as a new one (new ids) of another event: eventCoding, header profile and definition."""
    out = copy.deepcopy(bundle)
    out["id"] = str(uuid.uuid4())
    h = header(out)
    h["id"] = str(uuid.uuid4())
    h["eventCoding"] = {"system": MESSAGE_EVENT_SYSTEM, "code": code}
    h.setdefault("meta", {})["profile"] = [header_profile(code)]
    h["definition"] = definition(code)
    return out


def without_sender(bundle: dict) -> dict:
    """The message naming no sender at all: no MessageHeader.sender, and a source endpoint that is not a
    DoS id (so the sender cannot be found from it either)."""
    out = copy.deepcopy(bundle)
    h = header(out)
    h.pop("sender", None)
    h["source"]["endpoint"] = CONSUMER_ENDPOINT
    return out


def invalid_bundle() -> dict:
    """Not valid FHIR R4: Bundle.type is not a code of the value set's type and entry is not a list."""
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "message", "entry": {"oops": True},
            "timestamp": "not-a-date"}


def entries_of(bundle: dict, resource_type: str) -> list[dict]:
    return [e.get("resource") or {} for e in bundle.get("entry") or []
            if (e.get("resource") or {}).get("resourceType") == resource_type]


def resolve(bundle: dict, reference: dict | str | None) -> dict | None:
    """The entry's resource a reference names by fullUrl (as BaRS writes references), if any."""
    ref = reference.get("reference") if isinstance(reference, dict) else reference
    return next((e.get("resource") for e in bundle.get("entry") or [] if ref and e.get("fullUrl") == ref), None)


def focus_of(bundle: dict) -> dict:
    """The message's focus resource (what MessageHeader.focus names), {} when it names none."""
    entries = bundle.get("entry") or []
    h = (entries[0].get("resource") if entries else None) or {}
    for f in h.get("focus") or []:
        found = resolve(bundle, f)
        if found:
            return found
    return {}


def slot_of(bundle: dict) -> dict:
    """The Slot entry the focus Appointment books, {} when there is none."""
    return resolve(bundle, ((focus_of(bundle).get("slot") or [{}])[0])) or {}


def patient_of(bundle: dict) -> dict:
    """The Patient entry among the focus Appointment's participants, {} when there is none."""
    for p in focus_of(bundle).get("participant") or []:
        found = resolve(bundle, p.get("actor"))
        if found and found.get("resourceType") == "Patient":
            return found
    return {}


__all__ = ["BOOKING_CANCEL", "BOOKING_REQUEST", "CONSUMER_ENDPOINT", "booking_facts", "confirmation", "entries_of",
           "focus_of", "fresh_ubrn", "from_practice", "header", "invalid_bundle", "listed_dos", "patient_of",
           "resolve", "service_endpoint", "slot_of", "test_patient", "to_pas", "to_spine", "unknown_patient",
           "with_event", "without_sender"]
