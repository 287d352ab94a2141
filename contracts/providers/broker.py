"""The broker contract (provider `broker`): what a practice's GP system can rely on from the broker.

Base URL: the broker's FHIR root (`/$process-message`, `/HealthcareService`, `/Slot`, `/Appointment`).
A booking through the broker reaches a PAS, the spine and the practice behind it, so the suite needs
a whole stack: a patient the spine knows (`--nhs-number`) and a practice the broker can confirm to
(`--ods`).

The messages are BaRS booking messages as a practice's GP system sends them (contracts/messages.py
`from_practice`): from the practice (an Organization entry with its ODS code), addressed to the
service's DoS id, the Slot entry carrying the slot id and times the broker's search gave.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager

from party_common.identifiers import UBRN_SYSTEM

from .. import expect
from ..messages import (BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, fresh_ubrn, from_practice, header,
                        listed_dos, test_patient, without_sender)
from ..checks import CheckFailed, Target, check
from . import inbox_checks
from .http import entries, focus_of, get, post_message, ubrn_of

INBOX = "$process-message"
DEFAULT_PRACTICE = "Y90001"
UNKNOWN_PRACTICE = "Y99999"   # a well-formed ODS code no practice of the testbed has


async def prepare(t: Target) -> None:
    t.ods = t.ods or DEFAULT_PRACTICE
    t.nhs_number = t.nhs_number or test_patient(1)


async def service_id(t: Target) -> str:
    if "service" not in t.scratch:
        body = expect.status(await get(t, "HealthcareService"), 200, "HealthcareService search")
        services = entries(body, "HealthcareService")
        if not services:
            raise CheckFailed("the broker's directory lists no HealthcareService")
        t.scratch["service"] = services[0]
    return t.scratch["service"]["id"]


async def free_slots(t: Target) -> tuple[str, list[dict]]:
    service = await service_id(t)
    body = expect.status(await get(t, "Slot", service=service, status="free", _count=20), 200, "Slot search")
    slots = entries(body, "Slot")
    if not slots:
        raise CheckFailed(f"the broker finds no free Slot of {service}")
    return service, slots


async def free_slot(t: Target) -> tuple[str, dict]:
    service, slots = await free_slots(t)
    return service, random.choice(slots)


async def still_free(t: Target, service: str, slot: dict) -> bool:
    """Whether the broker's search still offers `slot` (the first free slot from its start)."""
    body = expect.status(await get(t, "Slot", service=service, status="free", start=f"ge{slot['start']}", _count=1),
                         200, "Slot search")
    return [s.get("id") for s in entries(body, "Slot")][:1] == [slot["id"]]


def gp_message(t: Target, service: str, slot: dict, *, event: str = BOOKING_REQUEST, ubrn: str | None = None,
               practice: str | None = None, bundle_id: str | None = None, header_id: str | None = None) -> dict:
    """A practice's booking request (no UBRN yet) or cancellation (by UBRN), as its GP system sends it;
    from `practice` (default the suite's, `--ods`)."""
    listed = t.scratch.get("service") or {}
    facts = booking_facts(slot=slot, service_id=service, ubrn=ubrn, trust_ods=None, gp_ods=practice or t.ods,
                          nhs_number=t.patient, status="booked" if event == BOOKING_REQUEST else "cancelled",
                          service_dos_id=listed_dos(listed) if listed.get("id") == service else None)
    return from_practice(event, facts, bundle_id=bundle_id, header_id=header_id)


async def cancel_quietly(t: Target, service: str, slot: dict, ubrn: str | None) -> None:
    if ubrn:
        await post_message(t, INBOX, gp_message(t, service, slot, event=BOOKING_CANCEL, ubrn=ubrn))


@asynccontextmanager
async def booked(t: Target):
    """A booking of a free slot through the broker, cancelled afterwards; yields (request, answer, slot, UBRN)."""
    service, slot = await free_slot(t)
    request = gp_message(t, service, slot)
    body = expect.status(await post_message(t, INBOX, request), 200, "booking-request")
    ubrn = ubrn_of(focus_of(body))
    try:
        yield request, body, slot, ubrn
    finally:
        await cancel_quietly(t, service, slot, ubrn)


@check("broker", "slot-search", "Slot?service=&status=free returns a searchset of free Slots with times")
async def slot_search(t: Target) -> None:
    body = expect.status(await get(t, "Slot", service=await service_id(t), status="free", _count=5), 200,
                         "Slot search")
    expect.free_slots(body, "the broker's Slot search")


@check("broker", "booking-accepted", "a practice's booking-request is answered 200: response.identifier = its "
       "Bundle.id, code ok, the Appointment booked under a new 12-digit UBRN")
async def booking_accepted(t: Target) -> None:
    async with booked(t) as (request, body, slot, _ubrn):
        expect.conforms(body, "booking-response", "booking response", event=BOOKING_REQUEST,
                        request_id=request["id"], code="ok", status="booked", slot_id=slot["id"])


@check("broker", "booking-in-ledger", "Appointment?identifier=<UBRN> finds the booking, booked")
async def booking_in_ledger(t: Target) -> None:
    async with booked(t) as (_request, _body, _slot, ubrn):
        expect.that(bool(ubrn), "the booking answer carries no UBRN")
        body = expect.status(await get(t, "Appointment", identifier=f"{UBRN_SYSTEM}|{ubrn}"), 200,
                             "Appointment search by UBRN")
        found = entries(body, "Appointment")
        expect.that([a.get("status") for a in found] == ["booked"],
                    f"the broker lists UBRN {ubrn} as {[a.get('status') for a in found]}, expected one booked")


@check("broker", "duplicate-bundle-same-answer", "the same Bundle.id again gets the same answer (same UBRN), "
       "not a second booking")
async def duplicate(t: Target) -> None:
    async with booked(t) as (request, first, _slot, ubrn):
        again = expect.status(await post_message(t, INBOX, request), 200, "repeated booking-request")
        expect.same_answer(first, again)
        expect.that(ubrn_of(focus_of(again)) == ubrn,
                    f"the repeat was booked as UBRN {ubrn_of(focus_of(again))}, the first as {ubrn}")


@check("broker", "duplicate-bundle-changed-conflict", "the same Bundle.id again with different content (another "
       "slot) gets 409 `duplicate` (BaRS REC_CONFLICT), not the first answer, and books nothing")
async def duplicate_changed(t: Target) -> None:
    async with booked(t) as (request, _first, slot, _ubrn):
        service, slots = await free_slots(t)
        other = random.choice([s for s in slots if s["id"] != slot["id"]] or slots)
        changed = gp_message(t, service, other, bundle_id=request["id"], header_id=header(request).get("id"))
        r = await post_message(t, INBOX, changed)
        if r.status_code == 200:  # booked after all: undo it before failing
            await cancel_quietly(t, service, other, ubrn_of(focus_of(r.json())))
        expect.outcome(r, "reused-id", "the same Bundle.id, another slot")
        expect.that(await still_free(t, service, other),
                    f"Slot {other['id']} is no longer offered after a refused message named it")


@check("broker", "slot-taken-conflict", "a second booking of a slot already booked gets 409 conflict")
async def slot_taken(t: Target) -> None:
    async with booked(t) as (_request, _body, slot, _ubrn):
        rival = gp_message(t, await service_id(t), slot)
        expect.outcome(await post_message(t, INBOX, rival), "conflict", "second booking of the slot")


@check("broker", "cancel-accepted", "a practice's booking-cancel is answered 200, the Appointment cancelled")
async def cancel_accepted(t: Target) -> None:
    service, slot = await free_slot(t)
    booking = expect.status(await post_message(t, INBOX, gp_message(t, service, slot)), 200, "booking-request")
    ubrn = ubrn_of(focus_of(booking))
    expect.that(bool(ubrn), "the booking answer carries no UBRN")
    cancel = gp_message(t, service, slot, event=BOOKING_CANCEL, ubrn=ubrn)
    body = expect.status(await post_message(t, INBOX, cancel), 200, "booking-cancel")
    expect.conforms(body, "booking-response", "cancel response", event=BOOKING_CANCEL, request_id=cancel["id"],
                    code="ok", status="cancelled", slot_id=slot["id"])


@check("broker", "cancel-unknown-ubrn", "a cancellation of a UBRN the broker never booked gets 404 not-found")
async def cancel_unknown(t: Target) -> None:
    service, slot = await free_slot(t)
    cancel = gp_message(t, service, slot, event=BOOKING_CANCEL, ubrn=fresh_ubrn())
    expect.outcome(await post_message(t, INBOX, cancel), "not-found", "cancel of an unknown UBRN")


@check("broker", "missing-sender", "a booking-request naming no practice (no MessageHeader.sender, no "
       "NHSD-End-User-Organisation, no DoS id as source.endpoint) gets 422 naming MessageHeader.sender")
async def missing_sender(t: Target) -> None:
    service, slot = await free_slot(t)
    message = without_sender(gp_message(t, service, slot))
    body = expect.outcome(await post_message(t, INBOX, message), "unprocessable", "booking with no sender")
    expect.that(any("sender" in e for e in body["issue"][0]["expression"]),
                f"expression {body['issue'][0]['expression']} does not name MessageHeader.sender")


@check("broker", "unknown-practice", "a booking-request from a practice the broker cannot confirm to gets 422 "
       "naming the sender, before anything is booked: the slot is still free")
async def unknown_practice(t: Target) -> None:
    service, slot = await free_slot(t)
    r = await post_message(t, INBOX, gp_message(t, service, slot, practice=UNKNOWN_PRACTICE))
    if r.status_code == 200:  # booked after all: undo it before failing
        await cancel_quietly(t, service, slot, ubrn_of(focus_of(r.json())))
    body = expect.outcome(r, "unprocessable", f"booking from practice {UNKNOWN_PRACTICE}")
    expect.that(any("sender" in e or "End-User" in e for e in body["issue"][0].get("expression") or []),
                f"expression {body['issue'][0].get('expression')} does not name MessageHeader.sender")
    expect.that(await still_free(t, service, slot),
                f"Slot {slot['id']} is no longer offered after a refused booking from {UNKNOWN_PRACTICE}")


@check("broker", "unknown-service", "a booking for a service no trust offers gets 422 naming the service")
async def unknown_service(t: Target) -> None:
    _service, slot = await free_slot(t)
    r = await post_message(t, INBOX, gp_message(t, "no-such-service", slot))
    expect.outcome(r, "unprocessable", "booking of an unknown service")


async def _sample(t: Target) -> dict:
    service, slot = await free_slot(t)
    return gp_message(t, service, slot)


inbox_checks.register("broker", lambda t: INBOX, _sample)
