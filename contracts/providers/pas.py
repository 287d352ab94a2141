"""The PAS contract (provider `pas`): what a trust's PAS must do with the broker's messages.

Base URL: the PAS's FHIR root; each trust is served under `/{ODS}` (`/{ODS}/$process-message`,
`/{ODS}/HealthcareService`, `/{ODS}/Slot`, `/{ODS}/Appointment`, `/{ODS}/metadata`).

The messages are BaRS booking messages as the broker passes a practice's booking on (contracts/
messages.py `to_pas`): from the practice, to the trust, addressed to the service's DoS id (the one
the PAS lists on its HealthcareService, else the testbed's), the Slot entry carrying the PAS's slot
id and times.
"""

from __future__ import annotations

import random
import uuid
from contextlib import asynccontextmanager

from party_common.identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM, canonical_system

from .. import expect
from ..messages import (BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, fresh_ubrn, listed_dos, patient_of,
                        test_patient, to_pas)
from ..checks import CheckFailed, Target, check
from ..traffic import CONTRACT_PRACTICE
from . import inbox_checks
from .http import booked_ubrn, entries, focus_of, get, post_message, ubrn_of

# The referring practice the bookings name: the suites' own, which marks a booking made without a UBRN.
PRACTICE = CONTRACT_PRACTICE
UNKNOWN_ODS = "ZZ999"


async def prepare(t: Target) -> None:
    if not t.ods:
        t.ods = "RT1"
        r = await get(t, "Organization")
        try:
            listed = r.json() if r.status_code == 200 else {}
        except ValueError:  # not JSON: no list to discover from, so the default stands
            listed = {}
        if isinstance(listed, dict):
            for org in entries(listed, "Organization"):
                code = next((i.get("value") for i in org.get("identifier") or []
                             if canonical_system(i.get("system")) == ODS_SYSTEM), None)
                if code:
                    t.ods = code
                    break
    t.nhs_number = t.nhs_number or test_patient(1)


def inbox(t: Target) -> str:
    return f"{t.ods}/$process-message"


async def service(t: Target) -> dict:
    """The first HealthcareService the trust lists: the one the suite books into."""
    if "service" not in t.scratch:
        body = expect.status(await get(t, f"{t.ods}/HealthcareService"), 200, "HealthcareService search")
        services = entries(body, "HealthcareService")
        if not services:
            raise CheckFailed(f"{t.ods} lists no HealthcareService to book into")
        t.scratch["service"] = services[0]
    return t.scratch["service"]


async def service_id(t: Target) -> str:
    return (await service(t))["id"]


async def free_slots(t: Target) -> tuple[str, list[dict]]:
    sid = await service_id(t)
    r = await get(t, f"{t.ods}/Slot", service=sid, status="free", _count=50)
    slots = entries(expect.status(r, 200, "Slot search"), "Slot")
    if not slots:
        raise CheckFailed(f"{t.ods} has no free Slot of {sid} to book")
    return sid, slots


async def free_slot(t: Target) -> tuple[str, dict]:
    sid, slots = await free_slots(t)
    # Random among the first free ones, so two runs at once rarely reach for the same slot.
    return sid, random.choice(slots[:20])


def booking(t: Target, service_id_: str, slot: dict, ubrn: str | None, event: str = BOOKING_REQUEST, *,
            appointment_id: str | None = None, bundle_id: str | None = None,
            header_id: str | None = None) -> tuple[dict, object]:
    """The broker's booking-request (or booking-cancel) of `slot` for the trust, and its facts."""
    listed = t.scratch.get("service") or {}
    dos = listed_dos(listed) if listed.get("id") == service_id_ else None
    facts = booking_facts(slot=slot, service_id=service_id_, ubrn=ubrn, trust_ods=t.ods, gp_ods=PRACTICE,
                          nhs_number=t.patient, status="booked" if event == BOOKING_REQUEST else "cancelled",
                          service_dos_id=dos, appointment_id=appointment_id)
    return to_pas(event, facts, bundle_id=bundle_id, header_id=header_id), facts


@asynccontextmanager
async def booked(t: Target):
    """A fresh booking of a free slot, cancelled afterwards; yields (request, response body, slot)."""
    sid, slot = await free_slot(t)
    ubrn = fresh_ubrn()
    request, _facts = booking(t, sid, slot, ubrn)
    body = expect.status(await post_message(t, inbox(t), request), 200, "booking-request")
    try:
        yield request, body, slot
    finally:
        cancel, _ = booking(t, sid, slot, ubrn, BOOKING_CANCEL)
        await post_message(t, inbox(t), cancel)


async def appointments_by_ubrn(t: Target, ubrn: str) -> list[dict]:
    r = await get(t, f"{t.ods}/Appointment", identifier=f"{UBRN_SYSTEM}|{ubrn}")
    body = expect.status(r, 200, "Appointment search by UBRN")
    expect.conforms(body, "searchset", "Appointment search")
    return entries(body, "Appointment")


async def slot_status(t: Target, slot_id: str) -> str | None:
    return expect.status(await get(t, f"{t.ods}/Slot/{slot_id}"), 200, f"Slot/{slot_id} read").get("status")


@check("pas", "slot-search", "Slot?service=&status=free returns a searchset of free Slots with times")
async def slot_search(t: Target) -> None:
    r = await get(t, f"{t.ods}/Slot", service=await service_id(t), status="free", _count=5)
    slots = expect.free_slots(expect.status(r, 200, "Slot search"))
    for slot in slots:
        expect.that(bool(slot.get("end")), f"Slot {slot.get('id')!r} lacks an end")


@check("pas", "booking-accepted", "a booking-request is answered 200 with a response message: "
       "response.identifier = request Bundle.id, code ok, the Appointment booked")
async def booking_accepted(t: Target) -> None:
    async with booked(t) as (request, body, slot):
        expect.conforms(body, "booking-response", "booking response", event=BOOKING_REQUEST,
                        request_id=request["id"], code="ok", status="booked", slot_id=slot["id"])


@check("pas", "booking-claims-slot", "after a booking its Slot reads busy")
async def booking_claims_slot(t: Target) -> None:
    async with booked(t) as (_request, _body, slot):
        got = await slot_status(t, slot["id"])
        expect.that(got == "busy", f"Slot/{slot['id']} reads {got!r} after it was booked, expected busy")


@check("pas", "booking-findable-by-ubrn", "Appointment?identifier=<UBRN system>|<UBRN> finds the one booking")
async def booking_findable(t: Target) -> None:
    async with booked(t) as (request, _body, _slot):
        ubrn = booked_ubrn(focus_of(request))
        found = await appointments_by_ubrn(t, ubrn)
        expect.that(len(found) == 1, f"Appointment search by UBRN {ubrn} found {len(found)}, expected 1")
        expect.that(found[0].get("status") == "booked", f"the Appointment is {found[0].get('status')!r}")


@check("pas", "booking-without-ubrn", "a booking-request with no UBRN (sent straight to the PAS, as BaRS allows) "
       "is booked: 200, the Appointment booked with the id the PAS gave it, the Slot busy; a booking-cancel "
       "naming that id cancels it")
async def booking_without_ubrn(t: Target) -> None:
    sid, slot = await free_slot(t)
    request, _facts = booking(t, sid, slot, None)
    r = await post_message(t, inbox(t), request)
    appointment_id = focus_of(r.json()).get("id") if r.status_code == 200 else None
    try:
        body = expect.status(r, 200, "booking-request without a UBRN")
        expect.conforms(body, "appointment-response", "booking response", event=BOOKING_REQUEST,
                        request_id=request["id"], code="ok", status="booked", slot_id=slot["id"])
        expect.that(bool(appointment_id), "the answer's Appointment has no id to cancel it by")
        got = await slot_status(t, slot["id"])
        expect.that(got == "busy", f"Slot/{slot['id']} reads {got!r} after it was booked, expected busy")
        cancel, _ = booking(t, sid, slot, None, BOOKING_CANCEL, appointment_id=appointment_id)
        done = expect.status(await post_message(t, inbox(t), cancel), 200, "booking-cancel by Appointment id")
        appointment_id = None
        expect.conforms(done, "appointment-response", "cancel response", event=BOOKING_CANCEL,
                        request_id=cancel["id"], code="ok", status="cancelled", slot_id=slot["id"])
        got = await slot_status(t, slot["id"])
        expect.that(got == "free", f"Slot/{slot['id']} reads {got!r} after the booking was cancelled, expected free")
    finally:
        if appointment_id:
            cancel, _ = booking(t, sid, slot, None, BOOKING_CANCEL, appointment_id=appointment_id)
            await post_message(t, inbox(t), cancel)


@check("pas", "duplicate-bundle-same-answer", "the same Bundle.id again gets the same answer and no second Appointment")
async def duplicate_same_answer(t: Target) -> None:
    async with booked(t) as (request, first, _slot):
        again = expect.status(await post_message(t, inbox(t), request), 200, "repeated booking-request")
        expect.same_answer(first, again)
        expect.that(focus_of(again).get("id") == focus_of(first).get("id"),
                    "the repeat's Appointment differs from the first's: a second booking was made")
        ubrn = booked_ubrn(focus_of(request))
        found = await appointments_by_ubrn(t, ubrn)
        expect.that(len(found) == 1, f"{len(found)} Appointments hold UBRN {ubrn} after a duplicate message")


@check("pas", "duplicate-bundle-changed-conflict", "the same Bundle.id again with different content (another "
       "slot) gets 409 `duplicate` (BaRS REC_CONFLICT), not the first answer, and books nothing")
async def duplicate_changed(t: Target) -> None:
    async with booked(t) as (request, _first, slot):
        sid, slots = await free_slots(t)
        other = random.choice([s for s in slots[:20] if s["id"] != slot["id"]] or slots)
        changed, _ = booking(t, sid, other, ubrn_of(focus_of(request)), bundle_id=request["id"],
                             header_id=request["entry"][0]["resource"].get("id"))
        expect.outcome(await post_message(t, inbox(t), changed), "reused-id", "the same Bundle.id, another slot")
        got = await slot_status(t, other["id"])
        expect.that(got == "free", f"Slot/{other['id']} reads {got!r} after a refused message named it")


@check("pas", "slot-taken-conflict", "a booking of a slot already booked under another UBRN gets 409 conflict")
async def slot_taken(t: Target) -> None:
    async with booked(t) as (_request, _body, slot):
        rival, _ = booking(t, await service_id(t), slot, fresh_ubrn())
        expect.outcome(await post_message(t, inbox(t), rival), "conflict", "second booking of the slot")


@check("pas", "cancel-accepted", "a booking-cancel is answered 200, the Appointment cancelled")
async def cancel_accepted(t: Target) -> None:
    service, slot = await free_slot(t)
    ubrn = fresh_ubrn()
    request, _ = booking(t, service, slot, ubrn)
    expect.status(await post_message(t, inbox(t), request), 200, "booking-request")
    cancel, _ = booking(t, service, slot, ubrn, BOOKING_CANCEL)
    body = expect.status(await post_message(t, inbox(t), cancel), 200, "booking-cancel")
    expect.conforms(body, "booking-response", "cancel response", event=BOOKING_CANCEL, request_id=cancel["id"],
                    code="ok", status="cancelled", slot_id=slot["id"])


@check("pas", "cancel-frees-slot", "after a cancellation its Slot reads free again")
async def cancel_frees_slot(t: Target) -> None:
    async with booked(t) as (_request, _body, slot):
        pass
    got = await slot_status(t, slot["id"])
    expect.that(got == "free", f"Slot/{slot['id']} reads {got!r} after the booking was cancelled, expected free")


@check("pas", "cancel-unknown-ubrn", "a booking-cancel for a UBRN the trust never booked gets 422 naming the identifier")
async def cancel_unknown(t: Target) -> None:
    service, slot = await free_slot(t)
    cancel, _ = booking(t, service, slot, fresh_ubrn(), BOOKING_CANCEL)
    expect.outcome(await post_message(t, inbox(t), cancel), "unprocessable", "cancel of an unknown UBRN")


@check("pas", "unknown-ods", "a message to an ODS code the PAS does not serve gets 404 not-found")
async def unknown_ods(t: Target) -> None:
    service, slot = await free_slot(t)
    request, _ = booking(t, service, slot, fresh_ubrn())
    expect.outcome(await post_message(t, f"{UNKNOWN_ODS}/$process-message", request), "not-found",
                   f"message to {UNKNOWN_ODS}")


@check("pas", "invalid-nhs-number", "a booking whose patient NHS number fails its check digit gets 422")
async def invalid_nhs(t: Target) -> None:
    service, slot = await free_slot(t)
    request, _ = booking(t, service, slot, fresh_ubrn())
    nhs = t.patient
    bad = nhs[:-1] + str((int(nhs[-1]) + 1) % 10)
    for ident in patient_of(request).get("identifier") or []:
        if canonical_system(ident.get("system")) == NHS_NUMBER_SYSTEM:
            ident["value"] = bad
    expect.outcome(await post_message(t, inbox(t), request), "unprocessable", "booking with a bad NHS number")


@check("pas", "unknown-slot", "a booking of a slot the service does not have (neither its id nor its start) gets "
       "422 naming the Slot")
async def unknown_slot(t: Target) -> None:
    service = await service_id(t)
    # Not a slot id of the service, and a start no slot has (slots start on the minute, not at :07:13).
    nowhere = {"id": f"no-such-slot-{uuid.uuid4().hex[:8]}", "start": "2027-03-01T03:07:13Z",
               "end": "2027-03-01T03:17:13Z"}
    request, _ = booking(t, service, nowhere, fresh_ubrn())
    body = expect.outcome(await post_message(t, inbox(t), request), "unprocessable", "booking of an unknown slot")
    slot_entry = next(f"Bundle.entry[{i}].resource" for i, e in enumerate(request["entry"])
                      if e["resource"]["resourceType"] == "Slot")
    expect.that(any(e.endswith(".slot") or e.startswith(slot_entry) for e in body["issue"][0]["expression"]),
                f"expression {body['issue'][0]['expression']} names neither the Slot entry ({slot_entry}) nor "
                "the Appointment's slot")


async def _sample(t: Target) -> dict:
    service, slot = await free_slot(t)
    return booking(t, service, slot, fresh_ubrn())[0]


inbox_checks.register("pas", inbox, _sample, metadata=lambda t: f"{t.ods}/metadata")
