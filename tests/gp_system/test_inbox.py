"""The practice inbox: confirmations from the broker flip the practice's view of its bookings."""

from __future__ import annotations

import copy
from dataclasses import replace

import orjson
import pytest
from sqlalchemy import func, select

from gp_system.models import ProcessedMessage
from party_common.booking import BookingFacts, booking_message, practice_org, service_dos, trust_org
from party_common.fhir_json import FHIR_JSON
from party_common.identifiers import dos_token
from party_common.messaging import MessageBuilder, read_message

from .conftest import OTHER_PRACTICE, PRACTICE
from .fakes import booking_of


async def booked(stack, slot="svc-cardio-rt1-203001070900"):
    """A booking the broker accepted; returns (request bundle sent, facts the broker answered with)."""
    ref = await stack.refer()
    resp = await stack.book(ref["id"], slot=slot)
    assert resp.status_code == 200
    answered = booking_of(resp.json())
    return stack.broker.received[-1], answered


def request_from_gp(nhs: str, ods: str = PRACTICE) -> dict:
    facts = BookingFacts(ubrn=None, nhs_number=nhs, trust_ods=None, gp_ods=ods, service_id="svc-cardio-rt2",
                         slot_id="svc-cardio-rt2-203001061400", start="2030-01-06T14:00:00Z",
                         end="2030-01-06T14:15:00Z", status="booked", specialty="cardiology")
    return booking_message("booking-request", facts, sender=practice_org(ods), receiver=None,
                           destination=dos_token(service_dos(facts.service_id)))


async def post_message(stack, bundle: dict, ods: str = PRACTICE):
    return await stack.client.post(f"/{ods}/$process-message", content=orjson.dumps(bundle),
                                   headers={"Content-Type": FHIR_JSON})


async def test_ok_confirmation_books(stack):
    sent, facts = await booked(stack)
    status, body = await stack.broker.confirm(sent, facts)
    assert status == 200
    header = body["entry"][0]["resource"]
    assert header["response"]["code"] == "ok"
    assert header["response"]["identifier"] == stack.broker.confirmations[0][1]["id"]
    # The practice answers in its own name, to the trust that confirmed.
    assert header["source"]["endpoint"] == practice_org(PRACTICE).endpoint
    answer = read_message(body)
    assert answer.sender.ods == PRACTICE and answer.receiver == trust_org("RT1")
    assert body["entry"][1]["resource"]["resourceType"] == "Appointment"
    assert booking_of(body).status == "booked"
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"


async def test_fatal_error_confirmation_fails_the_booking(stack):
    sent, facts = await booked(stack)
    status, _ = await stack.broker.confirm(sent, facts, code="fatal-error")
    assert status == 200
    [appt] = await stack.appointments()
    assert appt["status"] == "entered-in-error"


async def test_transient_error_confirmation_changes_nothing(stack):
    sent, facts = await booked(stack)
    status, _ = await stack.broker.confirm(sent, facts, code="transient-error")
    assert status == 200
    [appt] = await stack.appointments()
    assert appt["status"] == "proposed"


async def test_confirmation_matched_by_request_id_when_the_answer_was_lost(stack):
    ref = await stack.refer()
    stack.broker.transport.fail_messages("lost")
    assert (await stack.book(ref["id"], slot="svc-cardio-rt1-203001070900")).status_code == 503
    stack.broker.transport.fault = None
    [sent] = stack.broker.received
    assert "identifier" not in (await stack.appointments())[0]
    # The broker did book it and now confirms, naming the request it answers.
    facts = replace(booking_of(sent), ubrn="555555555555",
                    trust_ods="RT2", status="booked")
    status, _ = await stack.broker.confirm(sent, facts)
    assert status == 200
    [appt] = await stack.appointments()
    assert appt["identifier"][0]["value"] == "555555555555"
    assert appt["status"] == "booked"
    assert appt["extension"][0]["valueIdentifier"]["value"] == "RT2"


async def test_confirmation_for_an_unknown_ubrn_is_recorded(stack):
    nhs = stack.patient_at(PRACTICE)
    sent = request_from_gp(nhs)
    facts = replace(booking_of(sent), ubrn="777777777777",
                    trust_ods="RT1", status="booked")
    status, body = await stack.broker.confirm(sent, facts)
    assert status == 200, body
    [appt] = await stack.appointments()
    assert appt["identifier"][0]["value"] == "777777777777"
    assert appt["status"] == "booked"
    assert appt["participant"][0]["actor"]["identifier"]["value"] == nhs
    assert appt["slot"] == [{"reference": "Slot/svc-cardio-rt2-203001061400"}]
    # The booking it recorded can be cancelled like any other.
    assert (await stack.client.post(f"/{PRACTICE}/Appointment/777777777777/$cancel",
                                    headers={"Content-Type": "application/fhir+json"})).status_code == 200


async def test_duplicate_confirmation_gets_the_original_answer(stack):
    sent, facts = await booked(stack)
    await stack.broker.confirm(sent, facts)
    [(_, confirmation)] = stack.broker.confirmations
    first = await post_message(stack, confirmation)
    # A later fatal-error would fail the booking; a replay of the ok must not count as new news.
    again = await post_message(stack, confirmation)
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"


async def test_duplicate_of_a_refused_message_gets_the_same_refusal(stack):
    bundle = request_from_gp(stack.patient_at(PRACTICE))  # a request, not a response: refused
    first = await post_message(stack, bundle)
    again = await post_message(stack, bundle)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


async def test_message_without_response_is_422_naming_it(stack):
    resp = await post_message(stack, request_from_gp(stack.patient_at(PRACTICE)))
    assert resp.status_code == 422
    issue = resp.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Bundle.entry[0].resource.response"]
    assert await stack.appointments() == []


async def test_unknown_event_is_422(stack):
    b = MessageBuilder()
    bundle = b.build("referral-request", sender=b.org(trust_org("RT1")), destination=practice_org(PRACTICE).endpoint,
                     response={"identifier": "x", "code": "ok"}, reason=None)
    resp = await post_message(stack, bundle)
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["code"] == "not-supported"


async def test_confirmation_for_another_practice_is_422(stack):
    sent = request_from_gp(stack.patient_at(OTHER_PRACTICE), ods=OTHER_PRACTICE)
    facts = replace(booking_of(sent), ubrn="888888888888", trust_ods="RT1")
    # Addressed to this practice, but the Patient's generalPractitioner is the other one.
    confirmation = booking_message(
        "booking-request", facts, sender=trust_org("RT1"), receiver=practice_org(PRACTICE),
        destination=practice_org(PRACTICE).endpoint, response={"identifier": sent["id"], "code": "ok"})
    assert confirmation["entry"][2]["resource"]["resourceType"] == "Patient"
    resp = await post_message(stack, confirmation, ods=PRACTICE)
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["expression"] == ["Bundle.entry[2].resource.generalPractitioner"]
    assert await stack.appointments() == []


async def test_confirmation_naming_no_known_request_and_no_ubrn_is_422(stack):
    sent = request_from_gp(stack.patient_at(PRACTICE))
    facts = booking_of(sent)
    status, body = await stack.broker.confirm(sent, facts)
    assert status == 422
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.response.identifier"]


@pytest.mark.parametrize("bundle, status", [
    ({"resourceType": "Bundle", "id": "b1", "type": "collection"}, 400),
    ({"resourceType": "Bundle", "type": "message", "entry": []}, 400),
    ({"resourceType": "Parameters"}, 400),
])
async def test_malformed_messages_are_400(stack, bundle, status):
    resp = await post_message(stack, bundle)
    assert resp.status_code == status
    assert resp.json()["resourceType"] == "OperationOutcome"


async def test_inbox_wrong_content_type_is_415_and_unknown_practice_404(stack):
    resp = await stack.client.post(f"/{PRACTICE}/$process-message", content=b"{}",
                                   headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    resp = await post_message(stack, request_from_gp(stack.patient_at(PRACTICE)), ods="Y99999")
    assert resp.status_code == 404


@pytest.mark.parametrize("stack_settings", [{"dedupe": False}])
async def test_without_dedupe_a_repeat_is_processed_again(stack):
    sent, facts = await booked(stack)
    await stack.broker.confirm(sent, facts)
    [(_, confirmation)] = stack.broker.confirmations
    first = await post_message(stack, confirmation)
    again = await post_message(stack, confirmation)
    assert first.status_code == again.status_code == 200
    # Nothing is remembered, so a different message under the same id is applied, not refused.
    changed = copy.deepcopy(confirmation)
    changed["entry"][0]["resource"]["response"]["code"] = "fatal-error"
    assert (await post_message(stack, changed)).status_code == 200
    [appt] = await stack.appointments()
    assert appt["status"] == "entered-in-error"
    async with stack.app.state.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(ProcessedMessage))).scalar_one() == 0


async def test_a_confirmation_id_reused_for_another_answer_is_409_and_changes_nothing(stack):
    sent, facts = await booked(stack)
    await stack.broker.confirm(sent, facts)
    [(_, confirmation)] = stack.broker.confirmations
    changed = copy.deepcopy(confirmation)
    changed["entry"][0]["resource"]["response"]["code"] = "fatal-error"
    resp = await post_message(stack, changed)
    assert resp.status_code == 409
    assert resp.json()["issue"][0]["code"] == "duplicate"
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"


async def test_a_confirmation_whose_patient_names_no_practice_is_applied(stack):
    sent, facts = await booked(stack)
    practice = practice_org(PRACTICE)
    confirmation = booking_message(
        "booking-request", facts, sender=trust_org("RT1"), receiver=practice, destination=practice.endpoint,
        response={"identifier": sent["id"], "code": "ok"})
    del confirmation["entry"][2]["resource"]["generalPractitioner"]
    resp = await post_message(stack, confirmation)
    assert resp.status_code == 200, resp.text
    [appt] = await stack.appointments()
    assert appt["status"] == "booked"
