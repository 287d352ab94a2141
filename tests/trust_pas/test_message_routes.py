"""`$process-message`: booking, cancel, conflicts and dedupe (on SQLite and PostgreSQL), and bad input."""

from __future__ import annotations

import asyncio
import copy
import uuid

import orjson
from fhir.resources.R4B.bundle import Bundle

from party_common.identifiers import MESSAGE_EVENT_SYSTEM, UBRN_SYSTEM
from tests.inprocess import FHIR_HEADERS, client_for

from .helpers import SERVICE, booking, focus, free_slots, make_app, post_message, ubrn


async def appointments(client, ubrn_value: str, trust: str = "RT1") -> list[dict]:
    r = await client.get(f"/{trust}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn_value}"})
    assert r.status_code == 200
    return [e["resource"] for e in r.json()["entry"]]


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
        # A repeat of the MessageHeader.id under a new Bundle.id is the same message too.
        relabelled = {**copy.deepcopy(msg), "id": str(uuid.uuid4())}
        assert (await post_message(pas, relabelled)).json() == first.json()
        assert len(await appointments(pas, ubrn(2))) == 1
        assert (await pas.get("/RT1/Appointment")).json()["total"] == 1


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
        assert issue["code"] == "conflict" and issue["expression"] == ["Bundle.entry[1].resource.slot"]
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


async def test_same_ubrn_may_book_its_own_slot_again(pas):
    slot = (await free_slots(pas, count=1))[0]
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(14)))).status_code == 200
    # A new Bundle for the same booking (e.g. a resend under a new id) is not a conflict.
    assert (await post_message(pas, booking(slot, ubrn_value=ubrn(14)))).status_code == 200
    assert len(await appointments(pas, ubrn(14))) == 2


def _appointment(msg: dict) -> dict:
    return msg["entry"][1]["resource"]


async def test_business_rules_name_the_element_at_fault(pas):
    slot = (await free_slots(pas, count=1))[0]
    other = (await free_slots(pas, service="rt1-rt101-ent", count=1))[0]
    where = "Bundle.entry[1].resource"

    def wrong_trust_service(m):
        _appointment(m)["participant"][1]["actor"]["reference"] = "HealthcareService/rt2-rt201-cardiology"

    def slot_of_other_service(m):
        _appointment(m)["slot"] = [{"reference": f"Slot/{other['id']}"}]

    def slot_off_grid(m):
        _appointment(m)["slot"] = [{"reference": f"Slot/{SERVICE}-202701040835"}]

    def start_moved(m):
        _appointment(m)["start"] = "2027-01-04T08:35:00Z"

    def end_moved(m):
        _appointment(m)["end"] = "2027-01-04T09:00:00Z"

    def wrong_specialty(m):
        _appointment(m)["serviceType"][0]["coding"][0]["code"] = "dermatology"

    def wrong_performer(m):
        _appointment(m)["extension"][0]["valueIdentifier"]["value"] = "RT2"

    def bad_nhs_number(m):
        _appointment(m)["participant"][0]["actor"]["identifier"]["value"] = "9990000019"

    def no_ubrn(m):
        del _appointment(m)["identifier"]

    def long_ubrn(m):
        _appointment(m)["identifier"][0]["value"] = "9" * 65

    cases = [
        (wrong_trust_service, "participant"), (slot_of_other_service, "slot"), (slot_off_grid, "slot"),
        (start_moved, "start"), (end_moved, "end"), (wrong_specialty, "serviceType"),
        (wrong_performer, "extension"), (bad_nhs_number, "participant"), (no_ubrn, "identifier"),
        (long_ubrn, "identifier"),
    ]
    for i, (change, element) in enumerate(cases):
        msg = booking(slot, ubrn_value=ubrn(20 + i))
        change(msg)
        r = await post_message(pas, msg)
        assert r.status_code == 422, (change.__name__, r.text)
        assert r.json()["issue"][0]["expression"] == [f"{where}.{element}"], change.__name__
    assert await slot_status(pas, slot["id"]) == "free"
    assert (await pas.get("/RT1/Appointment")).json()["total"] == 0


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
    msg["entry"][0]["resource"]["eventCoding"]["code"] = "servicerequest-request"
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
