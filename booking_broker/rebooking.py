"""Repair by moving a booking: a booking the trust never got, whose slot the trust has since given to
another booking, goes to the nearest free slot of the same service (`POST /Appointment/{ubrn}/$rebook`).

The UBRN stays: it names the referral, not the slot. The ledger takes the new slot before anything is
sent, with `rebook_origin` for the messages' ids, so a repeat of the operation (its answer lost, or the
message dropped) sends the very same message again and the trust's dedupe store answers it; choosing
afresh after a lost acknowledgement would leave the patient booked twice. Once the trust holds it, the
practice and the spine are told of the new slot; a reconciliation round resends what of that is lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from party_common.messaging import BOOKING_REQUEST
from party_common.outcome import FhirError

from booking_broker.booking_flow import BookingFlow, derived_id, ledger_entry, ledger_facts
from booking_broker.models import LedgerEntry
from party_common.links.outcomes import REJECTED, Delivery
from booking_broker.slot_search import free_slots

# How many of the trust's free slots from the lost one's time are looked at for one the ledger does
# not already give to another booking.
NEAREST_LOOKAHEAD = 50


@dataclass
class Rebooking:
    delivery: Delivery          # the trust's answer to the last message sent it
    slot: str                   # the slot the ledger holds now
    start: str | None
    end: str | None
    moved_from: str | None = None   # the slot given up, when this call moved the booking


def slot_taken(d: Delivery) -> bool:
    """The trust refused the booking because its slot is another booking's (409 conflict), not
    because the message reused an id (409 duplicate) or broke a rule."""
    if d.outcome != REJECTED or d.status != 409 or not isinstance(d.body, dict):
        return False
    return any(issue.get("code") == "conflict" for issue in d.body.get("issue") or [])


async def rebook(flow: BookingFlow, ubrn: str) -> Rebooking:
    async with flow.db.session() as s:
        entry = await s.get(LedgerEntry, ubrn)
    if entry is None:
        raise FhirError(404, "not-found", f"no booking with UBRN {ubrn[:40]}")
    if entry.status != "booked":
        raise FhirError(422, "business-rule", f"booking {ubrn} is {entry.status}: only a booked one can be "
                        "moved to another slot")
    # First the booking as it stands: if the trust takes it (or has it already), nothing moves.
    d = await flow.resend(ubrn, "pas")
    if not slot_taken(d):
        if d.ok and entry.rebook_origin:
            await _tell_others(flow, entry)   # an earlier move whose news may not have gone out
        return Rebooking(d, entry.slot_id, entry.start, entry.end)
    # One move at a time per service, so two bookings moved together do not pick the same slot.
    lock = flow.rebook_locks.setdefault(entry.service_id, asyncio.Lock())
    async with lock:
        service = await flow.directory.service(entry.service_id)
        if service is None:
            raise FhirError(503, "transient", f"service {entry.service_id} is not in the directory now; try again")
        wanted = entry.start or ""
        slot = await _nearest_free(flow, service, wanted) if wanted else None
        if slot is None:
            raise FhirError(409, "conflict", f"{service.id} has no free slot from {wanted or 'now'}: booking "
                            f"{ubrn} cannot be moved", bars_code="REC_CONFLICT")
        async with flow.db.writing() as s:
            row = await ledger_entry(s, ubrn)
            moved_from = row.slot_id
            row.slot_id, row.start, row.end = slot["id"], slot["start"], slot["end"]
            row.rebook_origin = derived_id(row.request_bundle_id, f"rebook:{slot['id']}")
            row.updated_at = flow.clock.now()
            entry = row
        d = await flow._send_to_pas(BOOKING_REQUEST, ledger_facts(entry), entry.request_bundle_id,
                                    purpose="repair", ids=entry.rebook_origin)
    if d.ok:
        await _tell_others(flow, entry)
    return Rebooking(d, entry.slot_id, entry.start, entry.end, moved_from)


async def _nearest_free(flow: BookingFlow, service, start: str) -> dict | None:
    """The first slot from `start` that the trust shows free and no live booking of the ledger holds:
    a slot free at the trust may be another lost booking's, which taking would only move the loss."""
    slots = await free_slots(flow.directory, flow.courier, service, start, NEAREST_LOOKAHEAD)
    if not slots:
        return None
    async with flow.db.session() as s:
        held = set((await s.scalars(select(LedgerEntry.slot_id).where(
            LedgerEntry.slot_id.in_([slot["id"] for slot in slots]), LedgerEntry.status == "booked"))).all())
    return next((slot for slot in slots if slot["id"] not in held), None)


async def _tell_others(flow: BookingFlow, entry: LedgerEntry) -> None:
    """The practice and the spine's index hear of the new slot (one attempt each: what is lost shows
    as a slot_mismatch at the next reconciliation, which resends it)."""
    facts = ledger_facts(entry)
    await flow._confirm_to_gp(entry.request_bundle_id, BOOKING_REQUEST, facts, "ok", purpose="repair",
                              ids=entry.rebook_origin)
    await flow._report_to_spine(BOOKING_REQUEST, facts, entry.request_bundle_id, purpose="repair",
                                ids=entry.rebook_origin)
