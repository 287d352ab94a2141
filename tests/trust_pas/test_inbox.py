"""`$process-message`: booking, cancel, conflicts and dedupe (on SQLite and PostgreSQL), and bad input."""

from __future__ import annotations

import asyncio
import copy
import uuid

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle

from party_common.booking import practice_org, read_booking, service_dos
from party_common.identifiers import MESSAGE_EVENT_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM, dos_token
from party_common.messaging import read_message
from tests.inprocess import FHIR_HEADERS, client_for

from .helpers import (
    SERVICE,
    booking,
    entry_of,
    focus,
    free_slots,
    make_app,
    message_appointment,
    patient,
    post_message,
    ubrn,
)


async def appointments(client, ubrn_value: str, trust: str = "RT1") -> list[dict]:
    r = await client.get(f"/{trust}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn_value}"})
    assert r.status_code == 200
    return [e["resource"] for e in r.json().get("entry", [])]


async def slot_status(client, slot_id: str) -> str:
    return (await client.get(f"/RT1/Slot/{slot_id}")).json()["status"]


# --- booking, dedupe, conflict and cancel: on both databases ---------------------------------------------

async def test_booking_creates_appointment_and_takes_the_slot(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        msg = booking(slot, ubrn_value=ubrn(1))
        r = await post_message(pas, msg)
        assert r.status_code == 200, r.text
        body = r.json()
        Bundle.model_validate(body)
        header = body["entry"][0]["resource"]
        assert header["response"] == {"identifier": msg["id"], "code": "ok"}
        appt = focus(body)
        assert header["focus"][0]["reference"] == body["entry"][1]["fullUrl"]
        assert body["entry"][1]["resource"]["resourceType"] == "Appointment"
        # The trust answers in its own name, to the practice, at the endpoint the request came from.
        answer = read_message(body)
        assert (answer.sender.ods, answer.receiver) == ("RT1", practice_org("Y90001"))
        assert header["destination"][0]["endpoint"] == msg["entry"][0]["resource"]["source"]["endpoint"]
        assert read_booking(answer).slot_where == "Bundle.entry[4].resource"
        assert appt["resourceType"] == "Appointment" and appt["status"] == "booked"
        assert appt["identifier"] == [{"system": UBRN_SYSTEM, "value": ubrn(1)}]
        assert appt["start"] == slot["start"] and appt["end"] == slot["end"]
        assert appt["extension"][0]["valueIdentifier"]["value"] == "RT1"
        assert await slot_status(pas, slot["id"]) == "busy"
        stored = (await pas.get(f"/RT1/Appointment/{appt['id']}")).json()
        assert stored == appt
        assert await appointments(pas, ubrn(1)) == [appt]
        assert (await free_slots(pas, count=1))[0]["id"] != slot["id"]


async def test_repeat_of_a_bundle_gets_the_same_answer_and_changes_nothing(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        msg = booking(slot, ubrn_value=ubrn(2))
        first = await post_message(pas, msg)
        again = await post_message(pas, msg)
        assert again.status_code == first.status_code == 200
        assert again.json() == first.json()
        # Built again from the same facts under the same Bundle.id (a retry after a restart): the same message.
        nhs = entry_of(msg, "Patient")[1]["identifier"][0]["value"]
        rebuilt = booking(slot, ubrn_value=ubrn(2), bundle_id=msg["id"], nhs=nhs)
        assert (await post_message(pas, rebuilt)).json() == first.json()
        assert len(await appointments(pas, ubrn(2))) == 1
        assert (await pas.get("/RT1/Appointment")).json()["total"] == 1


async def test_a_repeat_of_the_header_id_under_a_new_bundle_id_is_the_same_message(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(2))
    first = await post_message(pas, msg)
    relabelled = {**copy.deepcopy(msg), "id": str(uuid.uuid4())}
    again = await post_message(pas, relabelled)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert len(await appointments(pas, ubrn(2))) == 1


async def test_a_bundle_id_reused_for_another_booking_is_409_and_changes_nothing(pas):
    first, second = await free_slots(pas, count=2)
    msg = booking(first, ubrn_value=ubrn(9))
    assert (await post_message(pas, msg)).status_code == 200
    r = await post_message(pas, booking(second, ubrn_value=ubrn(9), bundle_id=msg["id"]))
    assert r.status_code == 409
    issue = r.json()["issue"][0]
    assert (issue["code"], issue["expression"]) == ("duplicate", ["Bundle.id"])
    assert await slot_status(pas, second["id"]) == "free"
    assert [a["slot"][0]["reference"] for a in await appointments(pas, ubrn(9))] == [f"Slot/{first['id']}"]


async def test_without_dedupe_a_repeat_leaves_a_duplicate_appointment(db_url):
    async with client_for(make_app(db_url, dedupe=False)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        msg = booking(slot, ubrn_value=ubrn(3))
        first = await post_message(pas, msg)
        again = await post_message(pas, msg)
        assert first.status_code == again.status_code == 200
        assert focus(first.json())["id"] != focus(again.json())["id"]
        found = await appointments(pas, ubrn(3))
        assert len(found) == 2 and {a["slot"][0]["reference"] for a in found} == {f"Slot/{slot['id']}"}
        # Cancelling the UBRN cancels both and frees the slot.
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(3), event="booking-cancel"))
        assert r.status_code == 200
        assert [a["status"] for a in await appointments(pas, ubrn(3))] == ["cancelled", "cancelled"]
        assert await slot_status(pas, slot["id"]) == "free"


async def test_slot_held_under_another_ubrn_is_409_conflict(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        assert (await post_message(pas, booking(slot, ubrn_value=ubrn(4)))).status_code == 200
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(5)))
        assert r.status_code == 409
        issue = r.json()["issue"][0]
        # The Slot entry of the sender's Bundle.
        assert issue["code"] == "conflict" and issue["expression"] == ["Bundle.entry[4].resource"]
        assert await appointments(pas, ubrn(5)) == []
        assert [a["identifier"][0]["value"] for a in await appointments(pas, ubrn(4))] == [ubrn(4)]


async def test_concurrent_bookings_of_one_slot_leave_one_winner(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1, start="ge2027-03-01"))[0]
        results = await asyncio.gather(*(post_message(pas, booking(slot, ubrn_value=ubrn(600 + i)))
                                         for i in range(6)))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409, 409, 409, 409, 409], [r.text for r in results]
        assert (await pas.get("/RT1/Appointment")).json()["total"] == 1


async def test_cancel_frees_the_slot(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        booked = focus((await post_message(pas, booking(slot, ubrn_value=ubrn(6)))).json())
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(6), event="booking-cancel"))
        assert r.status_code == 200, r.text
        cancelled = focus(r.json())
        assert cancelled["id"] == booked["id"] and cancelled["status"] == "cancelled"
        assert await slot_status(pas, slot["id"]) == "free"
        assert (await free_slots(pas, count=1))[0]["id"] == slot["id"]
        # Someone else may now book it.
        assert (await post_message(pas, booking(slot, ubrn_value=ubrn(7)))).status_code == 200
        # Cancelling again is harmless and does not free the new holder's slot.
        again = await post_message(pas, booking(slot, ubrn_value=ubrn(6), event="booking-cancel"))
        assert again.status_code == 200
        assert await slot_status(pas, slot["id"]) == "busy"


async def test_cancel_of_unknown_ubrn_is_422(db_url):
    async with client_for(make_app(db_url)) as pas:
        slot = (await free_slots(pas, count=1))[0]
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(8), event="booking-cancel"))
        assert r.status_code == 422
        issue = r.json()["issue"][0]
        assert issue["code"] == "business-rule"
        assert issue["expression"] == ["Bundle.entry[1].resource.identifier"]


# --- in-process only -----------------------------------------------------------------------------------

async def test_a_refusal_is_repeated_for_a_repeated_message(pas):
    slot = (await free_slots(pas, count=1))[0]
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(10)))).status_code == 200
    refused = booking(slot, ubrn_value=ubrn(11))
    first = await post_message(pas, refused)
    assert first.status_code == 409
    # Even once the slot is free again, the same message keeps its original answer.
    await post_message(pas, booking(slot, ubrn_value=ubrn(10), event="booking-cancel"))
    again = await post_message(pas, refused)
    assert again.status_code == 409 and again.json() == first.json()


async def test_same_bundle_id_at_two_trusts_is_two_messages(pas):
    bundle_id = str(uuid.uuid4())
    s1 = (await free_slots(pas, count=1))[0]
    s2 = (await free_slots(pas, service="rt2-rt201-ent", trust="RT2", count=1))[0]
    r1 = await post_message(pas, booking(s1, ubrn_value=ubrn(12), bundle_id=bundle_id))
    r2 = await post_message(pas, booking(s2, ubrn_value=ubrn(13), service="rt2-rt201-ent", trust="RT2",
                                         bundle_id=bundle_id), trust="RT2")
    assert r1.status_code == r2.status_code == 200
    assert focus(r2.json())["extension"][0]["valueIdentifier"]["value"] == "RT2"
    assert read_message(r2.json()).sender.ods == "RT2"


async def test_same_ubrn_may_book_its_own_slot_again(pas):
    slot = (await free_slots(pas, count=1))[0]
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(14)))).status_code == 200
    # A new Bundle for the same booking (e.g. a resend under a new id) is not a conflict.
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(14)))).status_code == 200
    assert len(await appointments(pas, ubrn(14))) == 2


def _appointment(msg: dict) -> dict:
    return message_appointment(msg)


def _entry(msg: dict, resource_type: str) -> dict:
    return entry_of(msg, resource_type)[1]


async def test_business_rules_name_the_element_at_fault(pas):
    slot = (await free_slots(pas, count=1))[0]
    # A message as `booking` writes it: 0 MessageHeader, 1 Appointment, 2 Patient, 3 the practice,
    # 4 Slot, 5 Schedule, 6 HealthcareService, 7 the trust.
    msg = booking(slot, ubrn_value=ubrn(19))
    assert [e["resource"]["resourceType"] for e in msg["entry"]] == [
        "MessageHeader", "Appointment", "Patient", "Organization", "Slot", "Schedule", "HealthcareService",
        "Organization"]

    def wrong_trust_service(m):
        # Named by id and DoS id, and addressed to it: a service of RT2, not of RT1.
        other = "rt2-rt201-cardiology"
        service = _entry(m, "HealthcareService")
        service["id"], service["identifier"][0]["value"] = other, service_dos(other)
        m["entry"][0]["resource"]["destination"][0]["endpoint"] = dos_token(service_dos(other))

    def slot_off_grid(m):
        _entry(m, "Slot").update(id=f"{SERVICE}-202701040835", start="2027-01-04T08:35:00Z")

    def slot_end_wrong(m):
        # Known by its start only (an id the PAS does not know), with the wrong end.
        _entry(m, "Slot").update(id="their-slot-1", end="2027-01-04T09:00:00Z")

    def start_moved(m):
        _appointment(m)["start"] = "2027-01-04T08:35:00Z"

    def end_moved(m):
        _appointment(m)["end"] = "2027-01-04T09:00:00Z"

    def wrong_specialty(m):
        _appointment(m)["serviceType"][0]["coding"][0]["code"] = "dermatology"

    def wrong_provider(m):
        # The trust the HealthcareService is providedBy.
        m["entry"][7]["resource"]["identifier"] = [{"system": ODS_SYSTEM, "value": "RT2"}]

    def bad_nhs_number(m):
        _entry(m, "Patient")["identifier"][0]["value"] = "9990000019"

    def no_nhs_number(m):
        _entry(m, "Patient")["identifier"][0]["system"] = "https://example.org/not-the-nhs-number"

    def long_ubrn(m):
        _appointment(m)["identifier"][0]["value"] = "9" * 65

    def long_referrer(m):
        m["entry"][3]["resource"]["identifier"][0]["value"] = "Y" * 65

    cases = [
        (wrong_trust_service, "Bundle.entry[6].resource"), (slot_off_grid, "Bundle.entry[4].resource.start"),
        (slot_end_wrong, "Bundle.entry[4].resource.end"), (start_moved, "Bundle.entry[1].resource.start"),
        (end_moved, "Bundle.entry[1].resource.end"), (wrong_specialty, "Bundle.entry[1].resource.serviceType"),
        (wrong_provider, "Bundle.entry[6].resource.providedBy"),
        (bad_nhs_number, "Bundle.entry[2].resource.identifier"),
        (no_nhs_number, "Bundle.entry[2].resource.identifier"),
        (long_ubrn, "Bundle.entry[1].resource.identifier"), (long_referrer, "Bundle.entry[0].resource.sender"),
    ]
    for i, (change, expression) in enumerate(cases):
        msg = booking(slot, ubrn_value=ubrn(20 + i))
        change(msg)
        r = await post_message(pas, msg)
        assert r.status_code == 422, (change.__name__, r.text)
        assert r.json()["issue"][0]["expression"] == [expression], change.__name__
    assert await slot_status(pas, slot["id"]) == "free"
    assert (await pas.get("/RT1/Appointment")).json()["total"] == 0


async def test_a_slot_of_another_service_is_refused(pas):
    slot = (await free_slots(pas, count=1))[0]
    other = (await free_slots(pas, service="rt1-rt101-ent", count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(31))
    _entry(msg, "Slot").update(id=other["id"], start=other["start"], end=other["end"])
    r = await post_message(pas, msg)
    assert r.status_code == 422, r.text
    assert r.json()["issue"][0]["expression"][0].startswith("Bundle.entry[4].resource")
    assert (await pas.get("/RT1/Appointment")).json()["total"] == 0


async def test_a_slot_is_found_by_its_start_within_the_service_it_names(pas):
    # A sender that does not know the PAS's slot ids names the Slot by its Schedule's service and start.
    slot = (await free_slots(pas, count=2))[1]
    msg = booking(slot, ubrn_value=ubrn(32))
    del _entry(msg, "Slot")["id"]
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    assert focus(r.json())["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert await slot_status(pas, slot["id"]) == "busy"


async def test_a_service_is_found_by_its_dos_id_or_the_destination(pas):
    first, second = await free_slots(pas, count=2)
    # Only the DoS id names the service (the sender's own HealthcareService id means nothing here).
    msg = booking(first, ubrn_value=ubrn(33))
    _entry(msg, "HealthcareService")["id"] = "their-service"
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    assert focus(r.json())["participant"][1]["actor"]["reference"] == f"HealthcareService/{SERVICE}"
    # Nothing names it but the endpoint the message is addressed to.
    msg = booking(second, ubrn_value=ubrn(34))
    service = _entry(msg, "HealthcareService")
    service["id"], service["identifier"] = "their-service", [{"system": "https://example.org/x", "value": "1"}]
    assert msg["entry"][0]["resource"]["destination"][0]["endpoint"] == dos_token(service_dos(SERVICE))
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    assert focus(r.json())["slot"] == [{"reference": f"Slot/{second['id']}"}]


async def test_a_booking_without_a_ubrn_is_booked_under_its_bundle_id(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=None)
    assert "identifier" not in _appointment(msg)
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    appt = focus(r.json())
    assert appt["status"] == "booked" and "identifier" not in appt
    assert await slot_status(pas, slot["id"]) == "busy"
    assert (await pas.get(f"/RT1/Appointment/{appt['id']}")).json() == appt
    # The slot is held: another booking (with or without a UBRN) is a conflict.
    for other in (booking(slot, ubrn_value=None), booking(slot, ubrn_value=ubrn(35))):
        r = await post_message(pas, other)
        assert r.status_code == 409, r.text
        assert r.json()["issue"][0]["expression"] == ["Bundle.entry[4].resource"]
    assert (await pas.get("/RT1/Appointment")).json()["total"] == 1


@pytest.mark.parametrize("event", ["booking-cancel", "booking-request"])
async def test_a_booking_without_a_ubrn_is_cancelled_by_its_appointment_id(pas, event):
    """Sent straight to the PAS with no UBRN, then cancelled by the id the PAS gave its Appointment:
    by a booking-cancel, or (as BaRS has it) by the booking sent again with the Appointment cancelled."""
    slot = (await free_slots(pas, count=1))[0]
    nhs = patient(5)
    booked = await post_message(pas, booking(slot, ubrn_value=None, nhs=nhs))
    assert booked.status_code == 200, booked.text
    appointment_id = focus(booked.json())["id"]
    assert appointment_id

    cancel = booking(slot, ubrn_value=None, nhs=nhs, event=event)
    _appointment(cancel)["id"] = appointment_id
    _appointment(cancel)["status"] = "cancelled"
    r = await post_message(pas, cancel)
    assert r.status_code == 200, r.text
    cancelled = focus(r.json())
    assert (cancelled["id"], cancelled["status"]) == (appointment_id, "cancelled")
    assert "identifier" not in cancelled
    assert (await pas.get(f"/RT1/Appointment/{appointment_id}")).json()["status"] == "cancelled"
    assert await slot_status(pas, slot["id"]) == "free"
    # The slot may be booked again.
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(36)))).status_code == 200


async def test_a_cancel_naming_neither_ubrn_nor_appointment_id_is_422(pas):
    slot = (await free_slots(pas, count=1))[0]
    assert (await post_message(pas, booking(slot, ubrn_value=None))).status_code == 200
    r = await post_message(pas, booking(slot, ubrn_value=None, event="booking-cancel"))
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.identifier"]
    cancel = booking(slot, ubrn_value=None, event="booking-cancel")
    _appointment(cancel)["id"] = "no-such-appointment"
    r = await post_message(pas, cancel)
    assert r.status_code == 422
    assert r.json()["issue"][0]["code"] == "business-rule"
    assert await slot_status(pas, slot["id"]) == "busy"


async def test_times_may_be_left_to_the_slot(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(39))
    del _appointment(msg)["start"], _appointment(msg)["end"]
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    appt = focus(r.json())
    assert (appt["start"], appt["end"]) == (slot["start"], slot["end"])


async def test_start_in_another_zone_matches_the_slot(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(40))
    _appointment(msg)["start"] = "2027-01-04T09:30:00+01:00"
    r = await post_message(pas, msg)
    assert r.status_code == 200, r.text
    assert focus(r.json())["start"] == "2027-01-04T08:30:00Z"


async def test_unsupported_event_and_event_system_are_422(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(41))
    msg["entry"][0]["resource"]["eventCoding"]["code"] = "booking-update"   # no handler at the PAS
    r = await post_message(pas, msg)
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.eventCoding.code"]
    msg = booking(slot, ubrn_value=ubrn(42))
    msg["entry"][0]["resource"]["eventCoding"]["system"] = "https://example.org/other-events"
    assert MESSAGE_EVENT_SYSTEM != "https://example.org/other-events"
    r = await post_message(pas, msg)
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.eventCoding.system"]


async def test_focus_must_be_an_appointment(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(43))
    msg["entry"][0]["resource"]["focus"] = [{"reference": msg["entry"][2]["fullUrl"]}]  # the Patient
    r = await post_message(pas, msg)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"]


async def test_wrong_content_type_is_415(pas):
    slot = (await free_slots(pas, count=1))[0]
    r = await pas.post("/RT1/$process-message", content=orjson.dumps(booking(slot, ubrn_value=ubrn(44))),
                       headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["resourceType"] == "OperationOutcome"


async def test_unparsable_json_is_400(pas):
    r = await pas.post("/RT1/$process-message", content=b'{"resourceType": "Bundle",', headers=FHIR_HEADERS)
    assert r.status_code == 400
    assert r.json()["issue"][0]["code"] == "structure"


async def test_invalid_fhir_is_400_naming_the_element(pas):
    slot = (await free_slots(pas, count=1))[0]
    msg = booking(slot, ubrn_value=ubrn(45))
    _appointment(msg)["status"] = 42
    r = await post_message(pas, msg)
    assert r.status_code == 400
    expressions = [e for i in r.json()["issue"] for e in i.get("expression", [])]
    assert "Bundle.entry[1].resource.status" in expressions
    msg = booking(slot, ubrn_value=ubrn(46))
    del _appointment(msg)["participant"]
    r = await post_message(pas, msg)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.participant"]


async def test_non_message_bundles_and_other_resources_are_400(pas):
    r = await pas.post("/RT1/$process-message", headers=FHIR_HEADERS,
                       content=orjson.dumps({"resourceType": "Bundle", "id": "x1", "type": "collection"}))
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Bundle.type"]
    r = await pas.post("/RT1/$process-message", headers=FHIR_HEADERS,
                       content=orjson.dumps({"resourceType": "Patient", "id": "p1"}))
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["resourceType"]


async def test_unknown_trust_is_404(pas):
    slot = (await free_slots(pas, count=1))[0]
    r = await post_message(pas, booking(slot, ubrn_value=ubrn(47)), trust="ZZ9")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


async def test_get_on_process_message_is_405(pas):
    r = await pas.get("/RT1/$process-message")
    assert r.status_code == 405
    assert r.json()["issue"][0]["code"] == "not-supported"
