"""Helpers of the trust PAS tests: apps, booking messages, slot look-ups."""

from __future__ import annotations

import orjson

from party_common.booking import BookingFacts, booking_message
from party_common.identifiers import nhs_number_from_index, ubrn_from_sequence
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


def booking(slot: dict, *, ubrn_value: str, service: str = SERVICE, event: str = "booking-request",
            bundle_id: str | None = None, trust: str = "RT1", nhs: str | None = None) -> dict:
    facts = BookingFacts(
        ubrn=ubrn_value, nhs_number=nhs or patient(), trust_ods=trust, gp_ods="Y90001", service_id=service,
        slot_id=slot["id"], start=slot.get("start"), end=slot.get("end"), specialty=service.rsplit("-", 1)[1],
        referral_id="ref-0001",
    )
    return booking_message(event, facts, source_endpoint="http://broker.test/", sender_ods="X26",
                           destination_endpoint=f"http://pas.test/{trust}", receiver_ods=trust,
                           bundle_id=bundle_id)


async def post_message(client, bundle: dict, trust: str = "RT1"):
    return await client.post(f"/{trust}/$process-message", content=orjson.dumps(bundle), headers=FHIR_HEADERS)


async def free_slots(client, service: str = SERVICE, count: int = 10, trust: str = "RT1", **params) -> list[dict]:
    r = await client.get(f"/{trust}/Slot", params={"service": service, "status": "free", "_count": count, **params})
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", []) if e["resource"]["resourceType"] == "Slot"]


def focus(response_bundle: dict) -> dict:
    return response_bundle["entry"][1]["resource"]
