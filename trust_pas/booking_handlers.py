"""What a trust does with `booking-request` and `booking-cancel` messages.

A booking claims its slot in `slot_claims` (primary key slot_id): a slot held under another UBRN is a
409 conflict, while one already held under the same UBRN is taken as the same booking arriving again
and gets a further Appointment. That is deliberate: with dedupe off, a repeated message must leave a
duplicate behind for reconciliation to find.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import booking_from_message
from party_common.clock import party_clock
from party_common.identifiers import MESSAGE_EVENT_SYSTEM, UBRN_SYSTEM, is_valid_nhs_number
from party_common.inbox import Handler
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Message
from party_common.outcome import FhirError, business_rule, conflict

from . import resources
from .catalogue import Trust
from .models import Appointment, SlotClaim
from .schedule import instant_to_minute, minute_to_iso, stamp_to_minute
from .slot_search import SlotFinder

MAX_TEXT = 64


def _focus_path(msg: Message) -> str:
    focus = msg.focus
    for i, entry in enumerate(msg.bundle.get("entry", [])):
        if focus is not None and entry.get("resource") is focus:
            return f"Bundle.entry[{i}].resource"
    return "Bundle.entry"


def _check_event_system(msg: Message) -> None:
    if msg.event_system != MESSAGE_EVENT_SYSTEM:
        raise FhirError(422, "not-supported",
                        f"event {msg.event!r} must be coded in {MESSAGE_EVENT_SYSTEM}, not {msg.event_system!r}",
                        ["Bundle.entry[0].resource.eventCoding.system"])


def _bounded(value: str | None, what: str, expression: str) -> None:
    if value is not None and len(value) > MAX_TEXT:
        raise business_rule(f"{what} is longer than {MAX_TEXT} characters", expression, code="value")


def make_handlers(trust: Trust, finder: SlotFinder, *, is_sqlite: bool) -> dict[str, Handler]:
    # Statements built once and run with parameters: building them per message costs more than running
    # them. On the tables, not the mapped classes, so they run as plain Core statements.
    insert = sqlite_insert if is_sqlite else pg_insert
    claims = SlotClaim.__table__
    claim_stmt = (insert(claims).on_conflict_do_nothing(index_elements=["slot_id"])
                  .returning(claims.c.slot_id))
    holder_stmt = select(claims.c.ubrn).where(claims.c.slot_id == bindparam("slot_id"))
    appointment_stmt = Appointment.__table__.insert()

    async def claim(session: AsyncSession, values: dict) -> str | None:
        """Claims the slot; returns the UBRN already holding it, or None when this claim took it."""
        # Two tries: a claim seen on the first may be released (cancelled) before it can be read.
        for _ in range(2):
            if (await session.execute(claim_stmt, values)).first() is not None:
                return None
            holder = await session.scalar(holder_stmt, {"slot_id": values["slot_id"]})
            if holder is not None:
                return holder
        raise conflict(f"slot {values['slot_id']} is changing hands; try again")

    async def booking_request(session: AsyncSession, msg: Message) -> list[dict]:
        _check_event_system(msg)
        facts = booking_from_message(msg, require_ubrn=True)
        where = _focus_path(msg)
        _bounded(facts.ubrn, "the UBRN", f"{where}.identifier")
        _bounded(facts.gp_ods, "the referrer's ODS code", f"{where}.extension")
        _bounded(facts.referral_id, "the referral id", f"{where}.basedOn")
        if not is_valid_nhs_number(facts.nhs_number):
            raise business_rule(f"{facts.nhs_number[:20]!r} is not a valid NHS number", f"{where}.participant",
                                code="value")
        service = trust.services.get(facts.service_id)
        if service is None:
            raise business_rule(f"HealthcareService/{facts.service_id[:80]} is not a service of {trust.ods}",
                                f"{where}.participant")
        if facts.trust_ods and facts.trust_ods.upper() != trust.ods:
            raise business_rule(f"the booking names trust {facts.trust_ods[:20]!r} as performer, "
                                f"but was sent to {trust.ods}", f"{where}.extension")
        if facts.specialty and facts.specialty != service.specialty:
            raise business_rule(f"{service.id} offers {service.specialty}, not {facts.specialty[:40]!r}",
                                f"{where}.serviceType")
        slot_service, _, stamp = facts.slot_id.rpartition("-")
        minute = stamp_to_minute(stamp)
        k = service.template.ordinal_of(minute) if slot_service == service.id and minute is not None else None
        if k is None:
            raise business_rule(f"Slot/{facts.slot_id[:100]} is not a slot of {service.id}", f"{where}.slot")
        start, end = service.template.start_minute(k), service.template.end_minute(k)
        # The slot id fixes the times, so a booking may leave them out (a GP booking by slot id does);
        # times it does give must be the slot's.
        if facts.start is not None and instant_to_minute(facts.start) != start:
            raise business_rule(f"start must be the slot's start {minute_to_iso(start)}", f"{where}.start")
        if facts.end is not None and instant_to_minute(facts.end) != end:
            raise business_rule(f"end must be the slot's end {minute_to_iso(end)}", f"{where}.end")

        now = party_clock().now()
        holder = await claim(session, {
            "slot_id": facts.slot_id, "ods": trust.ods, "service_id": service.id, "start_minute": start,
            "ubrn": facts.ubrn, "claimed_at": now,
        })
        if holder is not None and holder != facts.ubrn:
            raise conflict(f"slot {facts.slot_id} is already booked under another UBRN", f"{where}.slot")
        row = dict(
            id=str(uuid.uuid4()), ods=trust.ods, ubrn=facts.ubrn, nhs_number=facts.nhs_number,
            gp_ods=facts.gp_ods, service_id=service.id, slot_id=facts.slot_id, start=minute_to_iso(start),
            end=minute_to_iso(end), status="booked", specialty=service.specialty,
            referral_id=facts.referral_id, bundle_id=msg.bundle_id, created_at=now, updated_at=now,
        )
        try:
            # A Core insert: the ORM unit of work would cost more than the rest of this handler.
            await session.execute(appointment_stmt, row)
        except IntegrityError:
            raise conflict(f"slot {facts.slot_id} was booked concurrently", f"{where}.slot") from None
        return [resources.appointment(SimpleNamespace(**row))]

    async def booking_cancel(session: AsyncSession, msg: Message) -> list[dict]:
        _check_event_system(msg)
        focus = msg.focus
        where = _focus_path(msg)
        if not focus or focus.get("resourceType") != "Appointment":
            raise FhirError(422, "required", "the message's focus must be an Appointment",
                            ["Bundle.entry[0].resource.focus"])
        ubrn = next((i.get("value") for i in focus.get("identifier") or [] if i.get("system") == UBRN_SYSTEM),
                    None)
        if not ubrn:
            raise FhirError(422, "required", f"{where}.identifier must hold a UBRN ({UBRN_SYSTEM})",
                            [f"{where}.identifier"])
        _bounded(ubrn, "the UBRN", f"{where}.identifier")
        rows = (await session.scalars(
            select(Appointment).where(Appointment.ods == trust.ods, Appointment.ubrn == ubrn)
            .order_by(Appointment.created_at.desc(), Appointment.id)
        )).all()
        if not rows:
            raise business_rule(f"{trust.ods} holds no appointment with UBRN {ubrn}", f"{where}.identifier")
        booked = [r for r in rows if r.status == "booked"]
        if booked:
            now = party_clock().now()
            for r in booked:
                r.status = "cancelled"
                r.updated_at = now
            await session.execute(delete(SlotClaim).where(
                SlotClaim.ubrn == ubrn, SlotClaim.slot_id.in_({r.slot_id for r in booked})))
            try:
                await session.flush()
            except IntegrityError:
                raise conflict(f"the booking {ubrn} changed while being cancelled", f"{where}.identifier") from None
            for service_id in {r.service_id for r in booked}:
                finder.forget(service_id)
        return [resources.appointment(r) for r in rows]

    return {BOOKING_REQUEST: booking_request, BOOKING_CANCEL: booking_cancel}
