"""Helpers of the trust PAS tests: apps, booking messages, slot look-ups."""

from __future__ import annotations

import orjson

from party_common.booking import (
    BookingFacts,
    appointment_resource,
    booking_message,
    practice_org,
    read_booking,
    service_dos,
    trust_org,
)
from party_common.identifiers import dos_token, nhs_number_from_index, ubrn_from_sequence
from party_common.messaging import BOOKING_CANCEL, SERVICEREQUEST_REQUEST, read_message
from party_common.referral import ReferralFacts, referral_message
from tests.inprocess import FHIR_HEADERS
from trust_pas.app import create_app
from trust_pas.settings import Settings

SERVICE = "rt1-rt101-cardiology"


def make_app(url: str, **overrides):
    return create_app(Settings(database_url=url, **overrides))


def patient(n: int = 1) -> str:
    number = None
    while number is None:
        number = nhs_number_from_index(n)
        n += 1
    return number


def ubrn(n: int) -> str:
    return ubrn_from_sequence(n)


def booking(slot: dict, *, ubrn_value: str | None, service: str = SERVICE, event: str = "booking-request",
            bundle_id: str | None = None, trust: str = "RT1", nhs: str | None = None) -> dict:
    """A booking message for `slot` (a Slot from the PAS's search) as the broker sends one to the PAS:
    in the practice's name, to the trust, addressed to the service by its DoS id."""
    facts = BookingFacts(
        ubrn=ubrn_value, nhs_number=nhs or patient(), trust_ods=trust, gp_ods="Y90001", service_id=service,
        slot_id=slot["id"], start=slot.get("start"), end=slot.get("end"), specialty=service.rsplit("-", 1)[1],
        referral_id="ref-0001", status="cancelled" if event == BOOKING_CANCEL else "booked",
    )
    return booking_message(event, facts, sender=practice_org("Y90001"), receiver=trust_org(trust),
                           destination=dos_token(service_dos(service)), bundle_id=bundle_id)


async def post_message(client, bundle: dict, trust: str = "RT1"):
    return await client.post(f"/{trust}/$process-message", content=orjson.dumps(bundle), headers=FHIR_HEADERS)


async def free_slots(client, service: str = SERVICE, count: int = 10, trust: str = "RT1", **params) -> list[dict]:
    r = await client.get(f"/{trust}/Slot", params={"service": service, "status": "free", "_count": count, **params})
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", []) if e["resource"]["resourceType"] == "Slot"]


def focus(response_bundle: dict) -> dict:
    """The Appointment a response message's focus states, in its REST shape (as the PAS's searches and
    reads return it), so it compares with what `GET /{ods}/Appointment` answers."""
    return appointment_resource(read_booking(read_message(response_bundle)).facts)


def message_appointment(bundle: dict) -> dict:
    """The Appointment entry of a booking message (the focus, right after the MessageHeader)."""
    resource = bundle["entry"][1]["resource"]
    assert resource["resourceType"] == "Appointment"
    return resource


def entry_of(bundle: dict, resource_type: str) -> tuple[int, dict]:
    """The index and resource of the first entry of a type in a message."""
    return next((i, e["resource"]) for i, e in enumerate(bundle["entry"])
                if e["resource"]["resourceType"] == resource_type)


async def assert_full_urls_read_back(client, bundle: dict) -> None:
    """Every entry with a fullUrl (matches and includes) reads back, at that URL, as the entry holds it."""
    for entry in bundle["entry"]:
        if "fullUrl" not in entry:
            continue
        r = await client.get(entry["fullUrl"])
        assert r.status_code == 200, (entry["fullUrl"], r.text)
        assert r.json() == entry["resource"], entry["fullUrl"]


def entries(bundle: dict, mode: str = "match") -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == mode]


def next_link(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def referral(referral_id: str, *, nhs: str, service: str = SERVICE, trust: str = "RT1") -> dict:
    """A servicerequest-request for `service`, as the broker passes a practice's referral on."""
    facts = ReferralFacts(referral_id=referral_id, nhs_number=nhs, gp_ods="Y90001", service_id=service,
                          trust_ods=trust, specialty=service.rsplit("-", 1)[1])
    return referral_message(SERVICEREQUEST_REQUEST, facts, sender=practice_org("Y90001"), receiver=trust_org(trust),
                            destination=dos_token(service_dos(service)))
