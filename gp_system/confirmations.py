"""The practice inbox's handler: the broker's confirmations of the practice's requests.

A confirmation is matched to the practice's booking by UBRN or by the request it answers
(MessageHeader.response.identifier), whichever is known: the broker may confirm before its answer
to the $book call arrives, or after that answer was lost.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import BookingFacts, booking_from_message
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, RESPONSE_CODES, Message
from party_common.outcome import FhirError, business_rule, conflict

from .models import BOOKED, CANCEL_REQUESTED, CANCELLED, ENDED, FAILED, REQUESTED, Booking
from .views import appointment

RESPONSE = "Bundle.entry[0].resource.response"


def next_status(event: str, code: str, current: str | None, pre_cancel: str | None = None) -> str:
    """The local status after a confirmation; `current` None for a booking first heard of now."""
    if event == BOOKING_REQUEST:
        if current is None:
            return {"ok": BOOKED, "fatal-error": FAILED}.get(code, REQUESTED)
        if current in (CANCEL_REQUESTED, CANCELLED):
            # The booking has moved on; a late word on the original request must not undo that.
            return current
        if code == "ok":
            return BOOKED
        if code == "fatal-error":
            return FAILED
        return current
    # booking-cancel
    if code == "ok":
        return CANCELLED
    if current is None:
        return BOOKED if code == "fatal-error" else CANCEL_REQUESTED
    if code == "fatal-error" and current == CANCEL_REQUESTED:
        # The broker refused the cancellation: the booking stands as it was.
        return pre_cancel or BOOKED
    return current


async def _find(session: AsyncSession, ods: str, ubrn: str | None, request_id: str | None) -> Booking | None:
    clauses = []
    if ubrn:
        clauses.append(Booking.ubrn == ubrn)
    if request_id:
        clauses += [Booking.request_bundle_id == request_id, Booking.cancel_bundle_id == request_id]
    if not clauses:
        return None
    rows = (await session.execute(
        select(Booking).where(Booking.gp_ods == ods, or_(*clauses)).limit(3)
    )).scalars().all()
    # The UBRN is the booking's identity; the request id only stands in while the UBRN is unknown.
    return next((r for r in rows if ubrn and r.ubrn == ubrn), rows[0] if rows else None)


def _new_row(ods: str, event: str, request_id: str | None, facts: BookingFacts, now: datetime) -> Booking:
    return Booking(
        id=str(uuid.uuid4()), gp_ods=ods, ubrn=facts.ubrn, referral_id=facts.referral_id,
        nhs_number=facts.nhs_number, specialty=facts.specialty, service_id=facts.service_id,
        slot_id=facts.slot_id, start=facts.start, end=facts.end, trust_ods=facts.trust_ods,
        status=REQUESTED, created_at=now, updated_at=now,
        request_bundle_id=request_id if event == BOOKING_REQUEST else None,
        cancel_bundle_id=request_id if event == BOOKING_CANCEL else None,
    )


def _focus_path(msg: Message) -> str:
    focus = msg.focus
    for i, entry in enumerate(msg.bundle.get("entry") or []):
        if focus is not None and entry.get("resource") is focus:
            return f"Bundle.entry[{i}].resource"
    return "Bundle.entry"


async def apply_confirmation(session: AsyncSession, ods: str, msg: Message) -> list[dict]:
    response = msg.response
    if not response:
        raise business_rule("the practice inbox takes only response messages (confirmations of the "
                            "practice's requests); MessageHeader.response is missing", RESPONSE)
    code = response.get("code")
    if code not in RESPONSE_CODES:
        raise FhirError(422, "value", f"MessageHeader.response.code must be one of {', '.join(RESPONSE_CODES)}",
                        [f"{RESPONSE}.code"])
    request_id = response.get("identifier")
    focus = msg.focus
    facts = booking_from_message(msg, require_ubrn=False) \
        if focus and focus.get("resourceType") == "Appointment" else None
    where = _focus_path(msg)
    if facts and facts.gp_ods and facts.gp_ods != ods:
        raise business_rule(f"the confirmation's Appointment is for practice {facts.gp_ods}, not {ods}",
                            f"{where}.extension")

    now = datetime.now(timezone.utc)
    row = await _find(session, ods, facts.ubrn if facts else None, request_id)
    if row is None:
        if facts is None or not facts.ubrn:
            raise business_rule("the confirmation answers no request of this practice and carries no "
                                "Appointment with a UBRN to record it by", f"{RESPONSE}.identifier")
        row = _new_row(ods, msg.event, request_id, facts, now)
        row.status = next_status(msg.event, code, None)
        if row.status == CANCEL_REQUESTED:
            row.pre_cancel_status = BOOKED
        session.add(row)
    else:
        if facts and facts.ubrn and row.ubrn and facts.ubrn != row.ubrn:
            raise conflict(f"the confirmation names UBRN {facts.ubrn} but the booking it answers has "
                           f"UBRN {row.ubrn}", f"{where}.identifier")
        if facts:
            row.ubrn = row.ubrn or facts.ubrn
            row.trust_ods = facts.trust_ods or row.trust_ods
            row.start = facts.start or row.start
            row.end = facts.end or row.end
        row.status = next_status(msg.event, code, row.status, row.pre_cancel_status)
        row.updated_at = now
    if row.status in ENDED:
        row.active_referral_id = None
    row.last_response_code = code
    if code != "transient-error":
        row.confirmed_at = now
    try:
        await session.flush()
    except IntegrityError as exc:
        raise conflict("the confirmation collides with a booking already recorded (same UBRN or request id)",
                       f"{RESPONSE}.identifier") from exc
    return [appointment(row)]
