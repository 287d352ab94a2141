"""The practice inbox's handler: the broker's confirmations of the practice's requests.

A confirmation is matched to the practice's booking by UBRN or by the request it answers
(MessageHeader.response.identifier), whichever is known: the broker may confirm before its answer
to the $book call arrives, or after that answer was lost.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import BookingFacts, read_booking
from party_common.clock import party_clock
from party_common.database import table_of
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, RESPONSE_CODES, Message
from party_common.outcome import FhirError, business_rule, conflict

from gp_system.models import BOOKED, CANCEL_REQUESTED, CANCELLED, ENDED, FAILED, REQUESTED, Booking
from gp_system.views import appointment

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


# Built once, on the table rather than the mapped class, so they run as plain Core statements.
_BOOKINGS = table_of(Booking)
_INSERT = _BOOKINGS.insert()
_UPDATE = update(_BOOKINGS).where(_BOOKINGS.c.id == bindparam("booking_id"))
# The practice is repeated in each alternative so that each is one index lookup: written once, outside
# the OR, it is the term SQLite picks, and every confirmation walked all of the practice's bookings.
_BY_UBRN_OR_REQUEST = select(_BOOKINGS).where(or_(
    and_(_BOOKINGS.c.gp_ods == bindparam("ods"), _BOOKINGS.c.ubrn == bindparam("ubrn")),
    and_(_BOOKINGS.c.gp_ods == bindparam("ods"), _BOOKINGS.c.request_bundle_id == bindparam("request_id")),
    and_(_BOOKINGS.c.gp_ods == bindparam("ods"), _BOOKINGS.c.cancel_bundle_id == bindparam("request_id")),
)).limit(3)


async def _find(session: AsyncSession, ods: str, ubrn: str | None, request_id: str | None):
    """The practice's booking (a bookings row) a confirmation is about, or None."""
    if not ubrn and not request_id:
        return None
    # A NULL parameter matches nothing, so one statement serves every mix of known keys.
    params = {"ods": ods, "ubrn": ubrn or None, "request_id": request_id or None}
    rows = (await session.execute(_BY_UBRN_OR_REQUEST, params)).all()
    # The UBRN is the booking's identity; the request id only stands in while the UBRN is unknown.
    return next((r for r in rows if ubrn and r.ubrn == ubrn), rows[0] if rows else None)


def _new_row(ods: str, event: str, request_id: str | None, facts: BookingFacts, now: datetime) -> dict:
    return dict(
        id=str(uuid.uuid4()), gp_ods=ods, ubrn=facts.ubrn, referral_id=facts.referral_id,
        active_referral_id=None, nhs_number=facts.nhs_number, specialty=facts.specialty,
        service_id=facts.service_id, slot_id=facts.slot_id, start=facts.start, end=facts.end,
        trust_ods=facts.trust_ods, status=REQUESTED, pre_cancel_status=None,
        request_bundle_id=request_id if event == BOOKING_REQUEST else None, request_header_id=None,
        cancel_bundle_id=request_id if event == BOOKING_CANCEL else None, cancel_header_id=None,
        last_response_code=None, created_at=now, updated_at=now, confirmed_at=None,
    )


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
    read = read_booking(msg) if focus and focus.get("resourceType") == "Appointment" else None
    facts = read.facts if read else None
    where = read.where if read else "Bundle.entry"
    if read and read.facts.gp_ods and read.facts.gp_ods != ods:
        raise business_rule(f"the confirmation's booking is for practice {read.facts.gp_ods}, not {ods}",
                            read.patient_where.replace(".identifier", ".generalPractitioner")
                            if read.patient_where else f"{where}.participant")

    now = party_clock().now()
    found = await _find(session, ods, facts.ubrn if facts else None, request_id)
    if found is None:
        if facts is None or not facts.ubrn:
            raise business_rule("the confirmation answers no request of this practice and carries no "
                                "Appointment with a UBRN to record it by", f"{RESPONSE}.identifier")
        row = _new_row(ods, msg.event, request_id, facts, now)
        row["status"] = next_status(msg.event, code, None)
        if row["status"] == CANCEL_REQUESTED:
            row["pre_cancel_status"] = BOOKED
        changes = row
    else:
        if facts and facts.ubrn and found.ubrn and facts.ubrn != found.ubrn:
            raise conflict(f"the confirmation names UBRN {facts.ubrn} but the booking it answers has "
                           f"UBRN {found.ubrn}", f"{where}.identifier")
        changes = {}
        if facts:
            # The slot too: a booking the broker moved to another slot (a repair) is confirmed again there.
            changes.update(ubrn=found.ubrn or facts.ubrn, trust_ods=facts.trust_ods or found.trust_ods,
                           service_id=facts.service_id or found.service_id, slot_id=facts.slot_id or found.slot_id,
                           start=facts.start or found.start, end=facts.end or found.end)
        changes["status"] = next_status(msg.event, code, found.status, found.pre_cancel_status)
        changes["updated_at"] = now
        row = {**found._asdict(), **changes}
    if row["status"] in ENDED:
        changes["active_referral_id"] = row["active_referral_id"] = None
    changes["last_response_code"] = row["last_response_code"] = code
    if code != "transient-error":
        changes["confirmed_at"] = row["confirmed_at"] = now
    try:
        if found is None:
            await session.execute(_INSERT, row)
        else:
            await session.execute(_UPDATE, {"booking_id": found.id, **changes})
    except IntegrityError as exc:
        raise conflict("the confirmation collides with a booking already recorded (same UBRN or request id)",
                       f"{RESPONSE}.identifier") from exc
    return [appointment(SimpleNamespace(**row))]
