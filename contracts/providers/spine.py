"""The spine contract (provider `spine`): UBRN allocation, patient look-up and the booking index.

Base URL: the spine's FHIR root (`/$allocate-ubrn`, `/Patient/{NHS number}`, `/$process-message`,
`/Appointment/{UBRN}`).

A booking report is a BaRS booking message from the broker to the spine (contracts/messages.py
`to_spine`), addressed to the spine's DoS id, carrying the booking under its UBRN.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

from .. import expect
from ..messages import (BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, fresh_ubrn, header, slot_of, test_patient,
                        to_spine, unknown_patient)
from ..checks import Target, check
from . import inbox_checks
from .http import focus_of, get, post_message

INBOX = "$process-message"
PRACTICE = "Y90001"
TRUST = "RT1"


async def prepare(t: Target) -> None:
    t.nhs_number = t.nhs_number or test_patient(1)


def allocation(nhs_number: str | None) -> dict:
    params = [{"name": "nhsNumber", "valueString": nhs_number}] if nhs_number else []
    return {"resourceType": "Parameters", "parameter": params}


def report(t: Target, ubrn: str, event: str = BOOKING_REQUEST, *, bundle_id: str | None = None,
           header_id: str | None = None) -> dict:
    """The broker's report of a booking (or its cancellation) to the booking index."""
    slot = {"id": f"contract-service-{uuid.uuid4().hex[:8]}", "start": "2027-03-01T09:00:00Z",
            "end": "2027-03-01T09:10:00Z"}
    facts = booking_facts(slot=slot, service_id="contract-service", ubrn=ubrn, trust_ods=TRUST, gp_ods=PRACTICE,
                          nhs_number=t.patient, status="booked" if event == BOOKING_REQUEST else "cancelled")
    return to_spine(event, facts, bundle_id=bundle_id, header_id=header_id)


@asynccontextmanager
async def reported(t: Target):
    """A booking reported to the index under a fresh UBRN, its cancellation reported afterwards."""
    ubrn = fresh_ubrn()
    message = report(t, ubrn)
    body = expect.status(await post_message(t, INBOX, message), 200, "booking report")
    try:
        yield message, body, ubrn
    finally:
        await post_message(t, INBOX, report(t, ubrn, BOOKING_CANCEL))


async def index_status(t: Target, ubrn: str) -> str | None:
    return expect.status(await get(t, f"Appointment/{ubrn}"), 200, f"index entry {ubrn}").get("status")


@check("spine", "patient-read", "GET /Patient/{NHS number} returns the Patient with that NHS number")
async def patient_read(t: Target) -> None:
    body = expect.status(await get(t, f"Patient/{t.nhs_number}"), 200, "Patient read")
    expect.conforms(body, "patient", "Patient", nhs_number=t.nhs_number)


@check("spine", "patient-unknown", "GET /Patient/{unknown NHS number} gets 404 not-found")
async def patient_unknown(t: Target) -> None:
    expect.outcome(await get(t, f"Patient/{unknown_patient()}"), "not-found", "unknown patient")


@check("spine", "patient-invalid-nhs-number", "GET /Patient/{not an NHS number} gets 400 naming the id")
async def patient_invalid(t: Target) -> None:
    expect.outcome(await get(t, "Patient/1234567890"), "invalid", "invalid NHS number")


@check("spine", "allocate-ubrn", "$allocate-ubrn for a known patient returns one 12-digit UBRN in the UBRN system")
async def allocate(t: Target) -> None:
    body = expect.status(await post_message(t, "$allocate-ubrn", allocation(t.nhs_number)), 200, "$allocate-ubrn")
    expect.conforms(body, "allocate-ubrn-response", "$allocate-ubrn")


@check("spine", "allocate-ubrn-unique", "two $allocate-ubrn calls give two different UBRNs")
async def allocate_unique(t: Target) -> None:
    got = []
    for _ in range(2):
        body = expect.status(await post_message(t, "$allocate-ubrn", allocation(t.nhs_number)), 200,
                             "$allocate-ubrn")
        got.append(next((p.get("valueIdentifier") or {}).get("value") for p in body.get("parameter") or []))
    expect.that(got[0] != got[1], f"both calls allocated UBRN {got[0]}")


@check("spine", "allocate-ubrn-invalid-nhs-number", "$allocate-ubrn with a bad NHS number gets 400 naming the parameter")
async def allocate_invalid(t: Target) -> None:
    r = await post_message(t, "$allocate-ubrn", allocation("1234567890"))
    body = expect.outcome(r, "invalid", "$allocate-ubrn, bad NHS number")
    expect.that(any(e.startswith("Parameters.parameter") for e in body["issue"][0]["expression"]),
                f"expression {body['issue'][0]['expression']} does not name the parameter")


@check("spine", "allocate-ubrn-missing-parameter", "$allocate-ubrn without nhsNumber gets 400")
async def allocate_missing(t: Target) -> None:
    expect.outcome(await post_message(t, "$allocate-ubrn", allocation(None)), "invalid", "$allocate-ubrn, no nhsNumber")


@check("spine", "allocate-ubrn-unknown-patient", "$allocate-ubrn for a patient the spine does not know gets 422")
async def allocate_unknown(t: Target) -> None:
    r = await post_message(t, "$allocate-ubrn", allocation(unknown_patient()))
    expect.outcome(r, "unprocessable", "$allocate-ubrn, unknown patient")


@check("spine", "report-accepted", "a booking report is answered 200 with a response message naming it, and indexed")
async def report_accepted(t: Target) -> None:
    async with reported(t) as (message, body, ubrn):
        slot_id = slot_of(message).get("id")
        expect.conforms(body, "booking-response", "report response", event=BOOKING_REQUEST,
                        request_id=message["id"], code="ok", status="booked", slot_id=slot_id)
        got = await index_status(t, ubrn)
        expect.that(got == "booked", f"the index holds UBRN {ubrn} as {got!r}, expected booked")


@check("spine", "duplicate-bundle-same-answer", "the same report again gets the same answer")
async def duplicate(t: Target) -> None:
    async with reported(t) as (message, first, _ubrn):
        again = expect.status(await post_message(t, INBOX, message), 200, "repeated report")
        expect.same_answer(first, again)


@check("spine", "duplicate-bundle-changed-conflict", "the same Bundle.id again with different content (another "
       "slot) gets 409 `duplicate` (BaRS REC_CONFLICT), and the index keeps the first report")
async def duplicate_changed(t: Target) -> None:
    async with reported(t) as (message, _first, ubrn):
        changed = report(t, ubrn, bundle_id=message["id"], header_id=header(message).get("id"))
        expect.outcome(await post_message(t, INBOX, changed), "reused-id", "the same Bundle.id, another slot")
        entry = expect.status(await get(t, f"Appointment/{ubrn}"), 200, f"index entry {ubrn}")
        slots = [s.get("reference") for s in entry.get("slot") or []]
        expect.that(slots == [f"Slot/{slot_of(message)['id']}"],
                    f"the index holds UBRN {ubrn} in {slots} after a refused report, not the first report's slot")


@check("spine", "cancel-report-accepted", "a cancellation report is answered 200 and the index says cancelled")
async def cancel_report(t: Target) -> None:
    async with reported(t) as (_message, _body, ubrn):
        cancel = report(t, ubrn, BOOKING_CANCEL)
        body = expect.status(await post_message(t, INBOX, cancel), 200, "cancel report")
        expect.that(focus_of(body).get("status") == "cancelled",
                    f"the cancel response's Appointment is {focus_of(body).get('status')!r}")
        got = await index_status(t, ubrn)
        expect.that(got == "cancelled", f"the index holds UBRN {ubrn} as {got!r} after its cancellation")


@check("spine", "cancel-unknown-ubrn", "a cancellation of a UBRN the index never held gets 422")
async def cancel_unknown(t: Target) -> None:
    r = await post_message(t, INBOX, report(t, fresh_ubrn(), BOOKING_CANCEL))
    expect.outcome(r, "unprocessable", "cancel of an unknown UBRN")


@check("spine", "index-unknown-ubrn", "GET /Appointment/{UBRN the index never held} gets 404 not-found")
async def index_unknown(t: Target) -> None:
    expect.outcome(await get(t, f"Appointment/{fresh_ubrn()}"), "not-found", "unknown index entry")


async def _sample(t: Target) -> dict:
    return report(t, fresh_ubrn())


inbox_checks.register("spine", lambda t: INBOX, _sample, operations=("allocate-ubrn",))
