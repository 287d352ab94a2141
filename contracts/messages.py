"""The messages checks send: synthetic, unique per call (fresh Bundle ids and UBRNs), NHS numbers 999."""

from __future__ import annotations

import random
import uuid

from party_common.booking import BookingFacts, appointment_resource, booking_message
from party_common.identifiers import MESSAGE_EVENT_SYSTEM, is_valid_nhs_number, nhs_number_from_index
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, message_bundle

CONSUMER_ENDPOINT = "https://contract-suite.nhs-interop-testbed.invalid"
_rng = random.SystemRandom()


def fresh_ubrn() -> str:
    """A 12-digit UBRN from a range the testbed's spine never allocates (leading 9s), unique per call."""
    return "99" + f"{_rng.randrange(10**10):010d}"


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


def booking_facts(*, slot: dict, service_id: str, ubrn: str | None, trust_ods: str | None, gp_ods: str,
                  nhs_number: str, specialty: str | None = None, status: str = "booked") -> BookingFacts:
    return BookingFacts(ubrn=ubrn, nhs_number=nhs_number, trust_ods=trust_ods, gp_ods=gp_ods,
                        service_id=service_id, slot_id=slot["id"], start=slot.get("start"), end=slot.get("end"),
                        status=status, specialty=specialty, referral_id=f"contract-{uuid.uuid4().hex[:12]}")


def request_message(event: str, facts: BookingFacts, *, destination: str, sender_ods: str | None,
                    receiver_ods: str | None) -> dict:
    """A booking-request or booking-cancel as the broker (or a practice) sends it."""
    return booking_message(event, facts, source_endpoint=CONSUMER_ENDPOINT, destination_endpoint=destination,
                           sender_ods=sender_ods, receiver_ods=receiver_ods,
                           reason="new" if event == BOOKING_REQUEST else "cancel")


def confirmation(event: str, facts: BookingFacts, *, destination: str, practice: str, code: str = "ok",
                 request_id: str | None = None) -> dict:
    """The broker's confirmation to a practice: a response message naming the practice's request."""
    return message_bundle(event, [appointment_resource(facts)], source_endpoint=CONSUMER_ENDPOINT,
                          destination_endpoint=destination, receiver_ods=practice, reason=None,
                          response={"identifier": request_id or str(uuid.uuid4()), "code": code})


def with_event(bundle: dict, code: str) -> dict:
    out = {**bundle, "id": str(uuid.uuid4())}
    header = {**out["entry"][0]["resource"], "id": str(uuid.uuid4()),
              "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": code}}
    out["entry"] = [{**out["entry"][0], "resource": header}, *out["entry"][1:]]
    return out


def invalid_bundle() -> dict:
    """Not valid FHIR R4: Bundle.type is not a code of the value set's type and entry is not a list."""
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "message", "entry": {"oops": True},
            "timestamp": "not-a-date"}


__all__ = ["BOOKING_CANCEL", "BOOKING_REQUEST", "booking_facts", "confirmation", "fresh_ubrn",
           "invalid_bundle", "request_message", "test_patient", "unknown_patient", "with_event"]
