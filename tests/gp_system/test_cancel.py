"""$cancel: the booking-cancel sent to the broker, and what the practice sees until it is confirmed."""

from __future__ import annotations

import pytest

from party_common.booking import practice_org, read_appointment, service_dos
from party_common.identifiers import dos_token
from party_common.messaging import read_message

from .conftest import OTHER_PRACTICE, PRACTICE
from .fakes import booking_of


async def confirmed_booking(stack) -> tuple[dict, str]:
    ref = await stack.refer()
    resp = await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    assert resp.status_code == 200
    facts = booking_of(resp.json())
    await stack.broker.confirm(stack.broker.received[-1], facts)
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"
    return appt, facts.ubrn


async def cancel(stack, ref: str, ods: str = PRACTICE):
    return await stack.client.post(f"/{ods}/Appointment/{ref}/$cancel", headers={"Content-Type": "application/fhir+json"})


@pytest.mark.parametrize("by", ["ubrn", "id"])
async def test_cancel_sends_booking_cancel_and_waits_for_confirmation(stack, by):
    appt, ubrn = await confirmed_booking(stack)
    resp = await cancel(stack, ubrn if by == "ubrn" else appt["id"])
    assert resp.status_code == 200, resp.text
    assert booking_of(resp.json()).status == "cancelled"

    sent = stack.broker.received[-1]
    msg = read_message(sent)
    assert msg.event == "booking-cancel" and msg.reason == "cancel"
    assert (msg.sender, msg.receiver) == (practice_org(PRACTICE), None)
    assert msg.header["destination"][0]["endpoint"] == dos_token(service_dos("svc-cardio-rt1"))
    facts = booking_of(sent)
    assert (facts.ubrn, facts.status, facts.trust_ods) == (ubrn, "cancelled", "RT1")
    assert facts.slot_id == "svc-cardio-rt1-203001070900"
    assert (facts.start, facts.end) == ("2030-01-07T09:00:00Z", "2030-01-07T09:15:00Z")

    # Still booked for the practice until the broker confirms the cancellation.
    assert (await stack.appointments())[0]["status"] == "booked"
    status, _ = await stack.broker.confirm(sent, facts)
    assert status == 200
    assert (await stack.appointments())[0]["status"] == "cancelled"


async def test_cancelled_referral_can_be_booked_again(stack):
    appt, ubrn = await confirmed_booking(stack)
    await cancel(stack, ubrn)
    sent = stack.broker.received[-1]
    await stack.broker.confirm(sent, booking_of(sent))
    referral_id = read_appointment(appt).referral_id
    resp = await stack.book(referral_id, slot="svc-cardio-rt1-203001070915")
    assert resp.status_code == 200
    assert len(await stack.appointments()) == 2


async def test_cancel_refused_by_the_broker_is_passed_through_and_the_booking_stands(stack):
    _, ubrn = await confirmed_booking(stack)
    stack.broker.refuse = (422, "business-rule")
    resp = await cancel(stack, ubrn)
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["code"] == "business-rule"
    assert (await stack.appointments())[0]["status"] == "booked"
    # Asking again is a new cancellation, not a resend of the refused one.
    stack.broker.refuse = None
    assert (await cancel(stack, ubrn)).status_code == 200
    assert stack.broker.received[-1]["id"] != stack.broker.received[-2]["id"]


async def test_cancel_with_broker_down_is_503_and_a_retry_resends_it(stack):
    _, ubrn = await confirmed_booking(stack)
    stack.broker.transport.fault = "lost"
    resp = await cancel(stack, ubrn)
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"
    stack.broker.transport.fault = None
    assert (await cancel(stack, ubrn)).status_code == 200
    first, second = stack.broker.received[-2:]
    assert read_message(first).event == read_message(second).event == "booking-cancel"
    assert first["id"] == second["id"]


async def test_cancel_refusal_confirmed_through_the_inbox_restores_booked(stack):
    _, ubrn = await confirmed_booking(stack)
    await cancel(stack, ubrn)
    sent = stack.broker.received[-1]
    status, _ = await stack.broker.confirm(sent, booking_of(sent), code="fatal-error")
    assert status == 200
    assert (await stack.appointments())[0]["status"] == "booked"


async def test_cancel_of_a_cancelled_booking_is_409(stack):
    _, ubrn = await confirmed_booking(stack)
    await cancel(stack, ubrn)
    sent = stack.broker.received[-1]
    await stack.broker.confirm(sent, booking_of(sent))
    resp = await cancel(stack, ubrn)
    assert resp.status_code == 409
    assert resp.json()["issue"][0]["code"] == "conflict"


async def test_cancel_without_a_ubrn_is_422(stack):
    ref = await stack.refer()
    stack.broker.transport.fail_messages("down")
    await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")
    stack.broker.transport.fault = None
    [appt] = await stack.appointments()
    resp = await cancel(stack, appt["id"])
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["code"] == "business-rule"
    assert stack.broker.received == []


async def test_cancel_of_an_unknown_booking_is_404(stack):
    _, ubrn = await confirmed_booking(stack)
    assert (await cancel(stack, "000000000000")).status_code == 404
    # A practice cannot cancel another practice's booking.
    assert (await cancel(stack, ubrn, ods=OTHER_PRACTICE)).status_code == 404


async def test_cancel_with_a_non_fhir_body_is_415(stack):
    _, ubrn = await confirmed_booking(stack)
    resp = await stack.client.post(f"/{PRACTICE}/Appointment/{ubrn}/$cancel", content=b"please",
                                   headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert read_message(stack.broker.received[-1]).event == "booking-request"


async def test_a_request_id_names_the_cancel_message_so_a_rerun_sends_the_same_ids(stack):
    _, ubrn = await confirmed_booking(stack)
    params = {"resourceType": "Parameters", "parameter": [{"name": "requestId", "valueString": "cancel-req-1"}]}
    resp = await stack.client.post(f"/{PRACTICE}/Appointment/{ubrn}/$cancel", json=params,
                                   headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 200, resp.text
    sent = stack.broker.received[-1]
    assert sent["id"] == "cancel-req-1"
    assert read_message(sent).event == "booking-cancel"


async def test_a_malformed_cancel_request_id_names_the_parameter(stack):
    _, ubrn = await confirmed_booking(stack)
    params = {"resourceType": "Parameters", "parameter": [{"name": "requestId", "valueString": "no spaces!"}]}
    resp = await stack.client.post(f"/{PRACTICE}/Appointment/{ubrn}/$cancel", json=params,
                                   headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 400
    issue = resp.json()["issue"][0]
    assert issue["code"] == "invalid" and issue["expression"] == ["Parameters.parameter[0]"]


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"},
                                     {"Content-Type": "application/x-www-form-urlencoded"}])
async def test_a_cancel_a_web_page_could_send_cross_site_is_415_and_sends_nothing(stack, headers):
    """No Content-Type, text/plain or a form: what a page may POST to another site without a preflight."""
    _, ubrn = await confirmed_booking(stack)
    resp = await stack.client.post(f"/{PRACTICE}/Appointment/{ubrn}/$cancel", headers=headers)
    assert resp.status_code == 415
    assert resp.json()["issue"][0]["code"] == "not-supported"
    assert read_message(stack.broker.received[-1]).event == "booking-request"
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"
