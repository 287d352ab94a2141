"""The GP system contract (provider `gp`): a practice's inbox for the broker's confirmations.

Base URL: the GP system's FHIR root; each practice is served under `/{ODS}` (`/{ODS}/$process-message`,
`/{ODS}/Appointment`).

A confirmation is a BaRS response message (contracts/messages.py `confirmation`): sent in the trust's
name, addressed to the practice (its DoS id, and an Organization entry as receiver), carrying the booking
as entries, `MessageHeader.response` naming the practice's request.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

from party_common.identifiers import UBRN_SYSTEM

from .. import expect
from ..messages import BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, confirmation, fresh_ubrn, header, test_patient
from ..checks import Target, check
from . import inbox_checks
from .http import entries, focus_of, get, post_message

DEFAULT_PRACTICE = "Y90001"
UNKNOWN_PRACTICE = "Y99999"
TRUST = "RT1"
SERVICE = "contract-service"


async def prepare(t: Target) -> None:
    t.ods = t.ods or DEFAULT_PRACTICE
    t.nhs_number = t.nhs_number or test_patient(1)


def inbox(t: Target) -> str:
    return f"{t.ods}/$process-message"


def confirming(t: Target, ubrn: str, event: str = BOOKING_REQUEST, code: str = "ok",
               booking_practice: str | None = None, *, bundle_id: str | None = None,
               header_id: str | None = None) -> dict:
    """A confirmation to the practice (`--ods`) of a booking under `ubrn`, made for `booking_practice`
    (default the same practice)."""
    slot = {"id": f"{SERVICE}-{uuid.uuid4().hex[:8]}", "start": "2027-03-01T09:00:00Z", "end": "2027-03-01T09:10:00Z"}
    facts = booking_facts(slot=slot, service_id=SERVICE, ubrn=ubrn, trust_ods=TRUST,
                          gp_ods=booking_practice or t.ods, nhs_number=t.patient,
                          status="booked" if event == BOOKING_REQUEST else "cancelled")
    return confirmation(event, facts, practice=t.ods, code=code, bundle_id=bundle_id, header_id=header_id)


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


@check("gp", "duplicate-bundle-changed-conflict", "the same Bundle.id again with different content (a "
       "`fatal-error` code) gets 409 `duplicate` (BaRS REC_CONFLICT), and the practice's booking stays booked")
async def duplicate_changed(t: Target) -> None:
    async with confirmed(t) as (message, _first, ubrn):
        changed = confirming(t, ubrn, code="fatal-error", bundle_id=message["id"],
                             header_id=header(message).get("id"))
        expect.outcome(await post_message(t, inbox(t), changed), "reused-id", "the same Bundle.id, another code")
        found = await practice_appointments(t, ubrn)
        expect.that([a.get("status") for a in found] == ["booked"],
                    f"the practice lists UBRN {ubrn} as {[a.get('status') for a in found]} after a refused message")


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
    del header(message)["response"]
    body = expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "message with no response")
    expect.that(any("response" in e for e in body["issue"][0]["expression"]),
                f"expression {body['issue'][0]['expression']} does not name MessageHeader.response")


@check("gp", "bad-response-code", "a response.code other than ok/transient-error/fatal-error gets 422")
async def bad_response_code(t: Target) -> None:
    message = confirming(t, fresh_ubrn())
    header(message)["response"]["code"] = "maybe"
    expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "bad response code")


@check("gp", "wrong-practice", "a confirmation of another practice's booking gets 422")
async def wrong_practice(t: Target) -> None:
    other = "Y90002" if t.ods != "Y90002" else "Y90003"
    message = confirming(t, fresh_ubrn(), booking_practice=other)
    expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "another practice's confirmation")


@check("gp", "unknown-practice", "a message to a practice the system does not serve gets 404 not-found")
async def unknown_practice(t: Target) -> None:
    r = await post_message(t, f"{UNKNOWN_PRACTICE}/$process-message", confirming(t, fresh_ubrn()))
    expect.outcome(r, "not-found", f"message to {UNKNOWN_PRACTICE}")


async def _sample(t: Target) -> dict:
    return confirming(t, fresh_ubrn())


inbox_checks.register("gp", inbox, _sample, metadata=lambda t: f"{t.ods}/metadata")
