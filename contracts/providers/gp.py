"""The GP system contract (provider `gp`): a practice's inbox for the broker's confirmations.

Base URL: the GP system's FHIR root; each practice is served under `/{ODS}` (`/{ODS}/$process-message`,
`/{ODS}/Appointment`).
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

from party_common.identifiers import UBRN_SYSTEM

from .. import expect
from ..messages import BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, confirmation, fresh_ubrn, test_patient
from ..suite import Target, check
from . import inbox_checks
from .http import entries, focus_of, get, post_message

DEFAULT_PRACTICE = "Y90001"
UNKNOWN_PRACTICE = "Y99999"
TRUST = "RT1"


async def prepare(t: Target) -> None:
    t.ods = t.ods or DEFAULT_PRACTICE
    t.nhs_number = t.nhs_number or test_patient(1)


def inbox(t: Target) -> str:
    return f"{t.ods}/$process-message"


def confirming(t: Target, ubrn: str, event: str = BOOKING_REQUEST, code: str = "ok",
               practice: str | None = None) -> dict:
    slot = {"id": f"contract-service-{uuid.uuid4().hex[:8]}"}
    facts = booking_facts(slot=slot, service_id="contract-service", ubrn=ubrn, trust_ods=TRUST,
                          gp_ods=practice or t.ods, nhs_number=t.nhs_number,
                          status="booked" if event == BOOKING_REQUEST else "cancelled")
    return confirmation(event, facts, destination=t.url(t.ods), practice=t.ods, code=code)


@asynccontextmanager
async def confirmed(t: Target):
    """A booking confirmed to the practice under a fresh UBRN, its cancellation confirmed afterwards."""
    ubrn = fresh_ubrn()
    message = confirming(t, ubrn)
    body = expect.status(await post_message(t, inbox(t), message), 200, "confirmation")
    try:
        yield message, body, ubrn
    finally:
        await post_message(t, inbox(t), confirming(t, ubrn, BOOKING_CANCEL))


async def practice_appointments(t: Target, ubrn: str) -> list[dict]:
    r = await get(t, f"{t.ods}/Appointment", identifier=f"{UBRN_SYSTEM}|{ubrn}")
    return entries(expect.status(r, 200, "Appointment search by UBRN"), "Appointment")


@check("gp", "confirmation-accepted", "a confirmation is answered 200 with a response message naming it")
async def confirmation_accepted(t: Target) -> None:
    async with confirmed(t) as (message, body, _ubrn):
        expect.conforms(body, "response", "confirmation response", event=BOOKING_REQUEST, request_id=message["id"],
                        code="ok")


@check("gp", "confirmation-recorded", "after a confirmation the practice lists the booking by UBRN, booked")
async def confirmation_recorded(t: Target) -> None:
    async with confirmed(t) as (_message, _body, ubrn):
        found = await practice_appointments(t, ubrn)
        expect.that(len(found) == 1, f"the practice lists {len(found)} Appointments with UBRN {ubrn}, expected 1")
        expect.that(found[0].get("status") == "booked", f"the practice's Appointment is {found[0].get('status')!r}")


@check("gp", "duplicate-bundle-same-answer", "the same confirmation again gets the same answer and no second booking")
async def duplicate(t: Target) -> None:
    async with confirmed(t) as (message, first, ubrn):
        again = expect.status(await post_message(t, inbox(t), message), 200, "repeated confirmation")
        expect.same_answer(first, again)
        found = await practice_appointments(t, ubrn)
        expect.that(len(found) == 1, f"{len(found)} Appointments hold UBRN {ubrn} after a duplicate confirmation")


@check("gp", "cancel-confirmation", "a cancellation's confirmation leaves the practice's booking cancelled")
async def cancel_confirmation(t: Target) -> None:
    async with confirmed(t) as (_message, _body, ubrn):
        body = expect.status(await post_message(t, inbox(t), confirming(t, ubrn, BOOKING_CANCEL)), 200,
                             "cancel confirmation")
        expect.that(focus_of(body).get("status") == "cancelled",
                    f"the answer's Appointment is {focus_of(body).get('status')!r}, expected cancelled")
        found = await practice_appointments(t, ubrn)
        expect.that([a.get("status") for a in found] == ["cancelled"],
                    f"the practice lists UBRN {ubrn} as {[a.get('status') for a in found]}, expected cancelled")


@check("gp", "not-a-response", "a message without MessageHeader.response gets 422 naming it")
async def not_a_response(t: Target) -> None:
    message = confirming(t, fresh_ubrn())
    del message["entry"][0]["resource"]["response"]
    body = expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "message with no response")
    expect.that(any("response" in e for e in body["issue"][0]["expression"]),
                f"expression {body['issue'][0]['expression']} does not name MessageHeader.response")


@check("gp", "bad-response-code", "a response.code other than ok/transient-error/fatal-error gets 422")
async def bad_response_code(t: Target) -> None:
    message = confirming(t, fresh_ubrn())
    message["entry"][0]["resource"]["response"]["code"] = "maybe"
    expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "bad response code")


@check("gp", "wrong-practice", "a confirmation of another practice's booking gets 422")
async def wrong_practice(t: Target) -> None:
    other = "Y90002" if t.ods != "Y90002" else "Y90003"
    message = confirming(t, fresh_ubrn(), practice=other)
    expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "another practice's confirmation")


@check("gp", "unknown-practice", "a message to a practice the system does not serve gets 404 not-found")
async def unknown_practice(t: Target) -> None:
    r = await post_message(t, f"{UNKNOWN_PRACTICE}/$process-message", confirming(t, fresh_ubrn()))
    expect.outcome(r, "not-found", f"message to {UNKNOWN_PRACTICE}")


async def _sample(t: Target) -> dict:
    return confirming(t, fresh_ubrn())


inbox_checks.register("gp", inbox, _sample)
