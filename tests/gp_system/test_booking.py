"""$book: explicit slot or slot search at the broker, the booking-request sent, the broker's answers."""

from __future__ import annotations

from party_common.booking import REFERRAL_SYSTEM, practice_org, read_appointment, service_dos
from party_common.identifiers import UBRN_SYSTEM, dos_token
from party_common.messaging import read_message
from party_common.outcome import HTTP_ERROR_SYSTEM

from .conftest import OTHER_PRACTICE, PRACTICE, parameters
from .fakes import booking_of


def answer_ubrn(body: dict) -> str:
    return booking_of(body).ubrn


async def test_book_explicit_slot_sends_a_booking_request(stack):
    ref = await stack.refer()
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070915", service="svc-cardio-rt1")
    assert resp.status_code == 200, resp.text
    assert answer_ubrn(resp.json()) == "100000000001"

    [sent] = stack.broker.received
    msg = read_message(sent)
    assert msg.event == "booking-request" and msg.reason == "new"
    # From the practice (by its DoS id), addressed to the service it books by the service's DoS id.
    assert msg.sender == practice_org(PRACTICE) and msg.receiver is None
    assert msg.header["source"]["endpoint"] == practice_org(PRACTICE).endpoint
    assert msg.header["destination"][0]["endpoint"] == dos_token(service_dos("svc-cardio-rt1"))
    assert msg.sender_ods == PRACTICE
    # The Appointment is the focus, right after the MessageHeader.
    assert msg.focus_index == 1
    facts = booking_of(sent)
    assert facts.ubrn is None and facts.trust_ods is None
    assert (facts.gp_ods, facts.service_id) == (PRACTICE, "svc-cardio-rt1")
    assert facts.slot_id == "svc-cardio-rt1-203001070915"
    assert facts.status == "booked"
    assert facts.nhs_number == ref["subject"]["identifier"]["value"]
    assert facts.specialty == "cardiology"
    assert facts.referral_id == ref["id"]
    assert msg.focus["basedOn"][0]["identifier"] == {"system": REFERRAL_SYSTEM, "value": ref["id"]}
    # The named slot's times, which its Slot entry must carry, asked of the broker (which also says it is free).
    assert (facts.start, facts.end) == ("2030-01-07T09:15:00Z", "2030-01-07T09:30:00Z")
    assert stack.broker.slot_queries == [
        {"service": "svc-cardio-rt1", "status": "free", "start": "ge2030-01-07T09:15:00Z", "_count": "1"}]

    [appt] = await stack.appointments()
    assert appt["identifier"] == [{"system": UBRN_SYSTEM, "value": "100000000001"}]
    # Asked and answered, but not yet confirmed through the inbox.
    assert appt["status"] == "proposed"
    stored = read_appointment(appt)
    assert (stored.trust_ods, stored.gp_ods, stored.slot_id) == ("RT1", PRACTICE, "svc-cardio-rt1-203001070915")
    assert (stored.start, stored.end) == ("2030-01-07T09:15:00Z", "2030-01-07T09:30:00Z")


async def test_slot_without_service_takes_the_service_from_the_slot_id(stack):
    ref = await stack.refer()
    resp = await stack.book(ref["id"], slot="svc-derm-rt1-203001051000")
    assert resp.status_code == 200
    assert booking_of(stack.broker.received[0]).service_id == "svc-derm-rt1"


async def test_book_from_start_searches_the_broker_by_specialty(stack):
    ref = await stack.refer(specialty="cardiology")
    resp = await stack.book(ref["id"], start="2030-01-07T00:00:00Z")
    assert resp.status_code == 200, resp.text
    assert stack.broker.slot_queries == [
        {"specialty": "cardiology", "status": "free", "start": "ge2030-01-07T00:00:00Z", "_count": "1"}]
    facts = booking_of(stack.broker.received[0])
    # The earliest free cardiology slot from the start asked for, its service from Schedule/<id>.
    assert (facts.slot_id, facts.service_id) == ("svc-cardio-rt1-203001070900", "svc-cardio-rt1")
    assert (facts.start, facts.end) == ("2030-01-07T09:00:00Z", "2030-01-07T09:15:00Z")


async def test_book_from_start_with_service_searches_by_service(stack):
    ref = await stack.refer()
    resp = await stack.book(ref["id"], start="2030-01-01T00:00:00Z", service="svc-cardio-rt1")
    assert resp.status_code == 200
    query = stack.broker.slot_queries[0]
    assert query["service"] == "svc-cardio-rt1" and "specialty" not in query
    assert booking_of(stack.broker.received[0]).slot_id == "svc-cardio-rt1-203001070900"


async def test_no_free_slot_is_422_and_sends_nothing(stack):
    ref = await stack.refer(specialty="neurology")
    resp = await stack.book(ref["id"], start="2030-01-01T00:00:00Z")
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["code"] == "business-rule"
    assert "no free slot" in resp.json()["issue"][0]["diagnostics"]
    assert stack.broker.received == []
    assert await stack.appointments() == []


async def test_broker_conflict_is_passed_through_and_the_booking_failed(stack):
    ref = await stack.refer()
    stack.broker.refuse = (409, "conflict")
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 409
    # The broker's refusal came without a BaRS code: it gets the receiver's code for its status.
    assert resp.json()["issue"][0] == {"severity": "error", "code": "conflict",
                                       "details": {"coding": [{"system": HTTP_ERROR_SYSTEM, "code": "REC_CONFLICT"}]},
                                       "diagnostics": "refused by the fake broker"}
    [appt] = await stack.appointments()
    assert appt["status"] == "entered-in-error"
    # A refused booking does not block the referral: the practice may book another slot.
    stack.broker.refuse = None
    again = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070915")
    assert again.status_code == 200
    assert len(stack.broker.received) == 2
    assert stack.broker.received[0]["id"] != stack.broker.received[1]["id"]


async def test_broker_down_is_503_and_the_request_is_kept(stack):
    ref = await stack.refer()
    # Down when the booking-request goes (the named slot was looked up just before).
    stack.broker.transport.fail_messages("down")
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"
    [appt] = await stack.appointments()
    assert appt["status"] == "proposed"
    assert "identifier" not in appt


async def test_broker_timeout_and_5xx_are_503(stack):
    ref = await stack.refer()
    stack.broker.transport.fail_messages("timeout")
    assert (await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")).status_code == 503
    stack.broker.transport.fault = None
    stack.broker.refuse = (500, "exception")
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"
    [appt] = await stack.appointments()
    assert appt["status"] == "proposed"


async def test_a_named_slot_no_longer_free_is_409_and_sends_nothing(stack):
    ref = await stack.refer()
    stack.broker.slots[0] = {**stack.broker.slots[0], "status": "busy"}
    resp = await stack.book(ref["id"], slot=stack.broker.slots[0]["id"])
    assert resp.status_code == 409
    assert resp.json()["issue"][0]["expression"] == ["Parameters.parameter"]
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001071000")   # no such slot
    assert resp.status_code == 409
    assert stack.broker.received == []
    assert await stack.appointments() == []


async def test_named_slot_look_up_with_broker_down_is_503_and_keeps_nothing(stack):
    ref = await stack.refer()
    stack.broker.transport.fault = "down"
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"
    # Nothing was asked of the broker, so there is nothing to resend: a later attempt starts afresh.
    assert await stack.appointments() == []
    stack.broker.transport.fault = None
    assert (await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")).status_code == 200


async def test_slot_search_with_broker_down_is_503(stack):
    ref = await stack.refer()
    stack.broker.transport.fault = "down"
    resp = await stack.book(ref["id"], start="2030-01-01T00:00:00Z")
    assert resp.status_code == 503
    assert await stack.appointments() == []


async def test_retry_after_unknown_outcome_resends_the_same_message(stack):
    ref = await stack.refer()
    stack.broker.refuse = (503, "transient")
    assert (await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")).status_code == 503
    stack.broker.refuse = None
    # A different slot in the retry does not matter: the first request may already have been booked.
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070915")
    assert resp.status_code == 200
    first, second = stack.broker.received
    assert first["id"] == second["id"]
    assert first["entry"][0]["resource"]["id"] == second["entry"][0]["resource"]["id"]
    assert booking_of(second).slot_id == "svc-cardio-rt1-203001070900"
    [appt] = await stack.appointments()
    assert appt["identifier"][0]["value"] == answer_ubrn(resp.json())


async def test_a_booked_referral_cannot_be_booked_again(stack):
    ref = await stack.refer()
    assert (await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")).status_code == 200
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070915")
    assert resp.status_code == 409
    assert resp.json()["issue"][0]["code"] == "conflict"
    assert len(stack.broker.received) == 1


async def test_confirmation_before_the_answer_is_matched_by_request_id(stack):
    stack.broker.confirm_first = True
    ref = await stack.refer()
    resp = await stack.book(ref["id"], start="2030-01-01T00:00:00Z")
    assert resp.status_code == 200
    [(status, _)] = stack.broker.confirmations
    assert status == 200
    [appt] = await stack.appointments()
    # One row: the confirmation found the request by its Bundle.id, and the later answer kept `booked`.
    assert appt["status"] == "booked"
    assert appt["identifier"][0]["value"] == answer_ubrn(resp.json())


async def test_fatal_error_answer_marks_the_booking_failed(stack):
    stack.broker.answer_code = "fatal-error"
    ref = await stack.refer()
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 200
    [appt] = await stack.appointments()
    assert appt["status"] == "entered-in-error"


async def test_book_parameter_errors(stack):
    ref = await stack.refer()
    path = f"/{PRACTICE}/ServiceRequest/{ref['id']}/$book"
    resp = await stack.post(path, parameters(service="svc-cardio-rt1"))
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["Parameters.parameter"]
    resp = await stack.post(path, {"resourceType": "Parameters",
                                   "parameter": [{"name": "start", "valueDateTime": "next tuesday"}]})
    assert resp.status_code == 400
    assert "Parameters.parameter[0].valueDateTime" in resp.json()["issue"][0]["expression"][0]
    resp = await stack.post(path, {"resourceType": "Parameters",
                                   "parameter": [{"name": "slot", "valueBoolean": True}]})
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["Parameters.parameter[0]"]
    resp = await stack.post(path, parameters(slot="no-time-in-this-id"))
    assert resp.status_code == 400
    resp = await stack.post(path, {"resourceType": "ServiceRequest"})
    assert resp.status_code == 400
    resp = await stack.client.post(path, content=b"slot=x", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert stack.broker.received == []


async def test_book_unknown_referral_is_404(stack):
    ref = await stack.refer()
    resp = await stack.book("no-such-referral", slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 404
    resp = await stack.book(ref["id"], ods=OTHER_PRACTICE, slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 404
    assert stack.broker.received == []
