"""Booking a referral through the broker, and cancelling a booking: the practice's side of it.

The local row is committed before the message goes out: the broker may confirm to the practice
inbox before it answers this call, and the inbox matches that confirmation by the request id.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace

import structlog
from sqlalchemy import CursorResult, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from party_common.booking import BookingFacts, practice_message, read_booking
from party_common.clock import party_clock
from party_common.database import Database, table_of
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, read_message
from party_common.outcome import FhirError, business_rule, conflict, invalid, not_found

from gp_system.dependencies import PRACTICE_NAMES
from gp_system.models import BOOKED, CANCEL_REQUESTED, CANCELLED, ENDED, FAILED, REQUESTED, Booking, Referral
from gp_system.outbound import FreeSlot, first_free_slot, no_free_slot, send_to_broker, transient
from gp_system.settings import Settings
from gp_system.views import booking_facts

log = structlog.get_logger("bookings")

_HEADER_NS = uuid.UUID("0e4b2f55-7a0c-4c1e-9a55-1b0a6f1d2c3e")


@dataclass
class BookRequest:
    slot: str | None
    service: str | None
    start: str | None
    request_id: str | None = None   # the caller's id for the booking-request message (idempotency)


def _now() -> datetime:
    return party_clock().now()


# Built once, on the tables rather than the mapped classes, so they run as plain Core statements.
_BOOKINGS, _REFERRALS = table_of(Booking), table_of(Referral)
_REFERRAL = select(_REFERRALS.c.nhs_number, _REFERRALS.c.specialty).where(
    _REFERRALS.c.id == bindparam("referral_id"), _REFERRALS.c.gp_ods == bindparam("ods"))
_LIVE_BOOKING = select(_BOOKINGS).where(_BOOKINGS.c.active_referral_id == bindparam("referral_id"))
_INSERT_BOOKING = _BOOKINGS.insert()
_ANSWER_FIELDS = select(_BOOKINGS.c.ubrn, _BOOKINGS.c.trust_ods, _BOOKINGS.c.start, _BOOKINGS.c.end,
                        _BOOKINGS.c.last_response_code).where(_BOOKINGS.c.id == bindparam("booking_id"))
_FILL_ANSWER = update(_BOOKINGS).where(_BOOKINGS.c.id == bindparam("booking_id"))



async def book(db: Database, client, settings: Settings, ods: str, referral_id: str, wanted: BookRequest) -> bytes:
    """Books `referral_id` into the slot `wanted` names (or the first free one from its start), and
    answers with the broker's answer as it came."""
    async with db.engine.connect() as conn:
        referral = (await conn.execute(_REFERRAL, {"referral_id": referral_id, "ods": ods})).first()
        if referral is None:
            raise not_found(f"no referral {referral_id} at practice {ods}")
        live = (await conn.execute(_LIVE_BOOKING, {"referral_id": referral_id})).first()
    if live is not None:
        if live.status == REQUESTED and not live.ubrn:
            # The earlier attempt's outcome is unknown: sending the very same message again lets the
            # broker answer from its dedupe store instead of booking twice.
            log.info("resending unanswered booking-request", booking=live.id, bundle_id=live.request_bundle_id)
            return await _request_booking(db, client, settings, live)
        raise conflict(f"referral {referral_id} already has a booking"
                       + (f" (UBRN {live.ubrn}, {live.status})" if live.ubrn else f" ({live.status})"))

    if wanted.slot:
        slot = await _named_slot(client, settings, wanted.slot, wanted.service, referral.specialty)
    else:
        found = await first_free_slot(client, settings.broker_url, start=wanted.start or "",
                                      specialty=referral.specialty, service=wanted.service)
        if found is None:
            raise no_free_slot(referral.specialty, wanted.service, wanted.start or "")
        slot = found
    now = _now()
    row = dict(
        id=str(uuid.uuid4()), gp_ods=ods, ubrn=None, referral_id=referral_id, active_referral_id=referral_id,
        nhs_number=referral.nhs_number, specialty=referral.specialty, service_id=slot.service_id,
        slot_id=slot.slot_id, start=slot.start, end=slot.end, trust_ods=None, status=REQUESTED,
        # A caller-supplied id makes the message reproducible (replays, reruns of a scenario).
        request_bundle_id=wanted.request_id or str(uuid.uuid4()),
        request_header_id=str(uuid.uuid5(_HEADER_NS, wanted.request_id)) if wanted.request_id else str(uuid.uuid4()),
        created_at=now, updated_at=now,
    )
    try:
        async with db.writing() as session:
            await session.execute(_INSERT_BOOKING, row)
    except IntegrityError as exc:
        raise conflict(f"referral {referral_id} is being booked by another request, or requestId "
                       f"{wanted.request_id} was used before") from exc
    return await _request_booking(db, client, settings, SimpleNamespace(**row))


async def _named_slot(client, settings: Settings, slot_id: str, service: str | None,
                      specialty: str | None) -> FreeSlot:
    """A slot the caller named by id, with the times a BaRS Slot entry must carry: asked of the broker,
    which also says whether it is still free."""
    stamp = slot_id.rsplit("-", 1)[-1]
    if not re.fullmatch(r"\d{12}", stamp):
        raise invalid(f"slot id {slot_id[:100]!r} does not end in its start time (YYYYMMDDHHMM)",
                      "Parameters.parameter")
    start = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:00Z"
    found = await first_free_slot(client, settings.broker_url, start=start, specialty=specialty,
                                  service=service)
    if found is None or found.slot_id != slot_id:
        raise conflict(f"slot {slot_id} is not free at {service}", "Parameters.parameter")
    return found


def _message(event: str, facts: BookingFacts, *, bundle_id: str, header_id: str) -> dict:
    name = PRACTICE_NAMES.get(facts.gp_ods) if facts.gp_ods else None
    return practice_message(event, facts, name=name, bundle_id=bundle_id,
                            header_id=header_id)


async def _request_booking(db: Database, client, settings: Settings, row) -> bytes:
    """Sends the booking-request for `row` (a bookings row) and answers with the broker's answer."""
    facts = BookingFacts(
        ubrn=None, nhs_number=row.nhs_number, trust_ods=None, gp_ods=row.gp_ods, service_id=row.service_id,
        slot_id=row.slot_id, start=row.start, end=row.end, status="booked", specialty=row.specialty,
        referral_id=row.referral_id,
    )
    message = _message(BOOKING_REQUEST, facts, bundle_id=row.request_bundle_id, header_id=row.request_header_id)
    try:
        answer, raw = await send_to_broker(client, settings.broker_url, message)
    except FhirError as exc:
        if exc.status < 500:
            await _end_request(db, row.id, FAILED, None)
        # Unknown outcome (503): the row stays `requested`, so the practice knows it asked.
        raise
    await _record_answer(db, row.id, row.gp_ods, answer)
    # The broker's answer goes back as it came: no second encoding of the same JSON.
    return raw


def _read_answer(answer: dict) -> tuple[str | None, BookingFacts | None]:
    try:
        msg = read_message(answer)
        code = (msg.response or {}).get("code")
        focus = msg.focus
        facts = read_booking(msg).facts if focus and focus.get("resourceType") == "Appointment" else None
    except FhirError as exc:
        raise transient(f"the broker's answer could not be read ({exc}); the request may be retried") from exc
    return code, facts


async def _end_request(db: Database, booking_id: str, status: str, code: str | None) -> None:
    async with db.writing() as session:
        await session.execute(
            update(_BOOKINGS).where(_BOOKINGS.c.id == booking_id, _BOOKINGS.c.status == REQUESTED)
            .values(status=status, active_referral_id=None, last_response_code=code, updated_at=_now())
        )


async def _record_answer(db: Database, booking_id: str, gp_ods: str, answer: dict) -> None:
    code, facts = _read_answer(answer)
    if code == "fatal-error":
        await _end_request(db, booking_id, FAILED, code)
        return
    if facts is None or not facts.ubrn:
        log.warning("broker answer without a UBRN", booking=booking_id, code=code)
        return
    async with db.engine.connect() as conn:
        row = (await conn.execute(_ANSWER_FIELDS, {"booking_id": booking_id})).first()
    if row is None:
        return
    filled = {"ubrn": row.ubrn or facts.ubrn, "trust_ods": row.trust_ods or facts.trust_ods,
              "start": row.start or facts.start, "end": row.end or facts.end,
              "last_response_code": row.last_response_code or code}
    if all(getattr(row, k) == v for k, v in filled.items()):
        # The broker's confirmation reached the inbox first and recorded it all: no write.
        return
    try:
        async with db.writing() as session:
            await session.execute(_FILL_ANSWER, {"booking_id": booking_id, **filled, "updated_at": _now()})
        return
    except IntegrityError:
        pass
    await _merge_recorded_elsewhere(db, booking_id, gp_ods, facts.ubrn)


async def _merge_recorded_elsewhere(db: Database, booking_id: str, gp_ods: str, ubrn: str) -> None:
    """The inbox recorded this UBRN on a row of its own before our answer came: keep one row."""
    async with db.writing() as session:
        other = (await session.execute(
            select(Booking).where(Booking.gp_ods == gp_ods, Booking.ubrn == ubrn)
        )).scalar_one_or_none()
        ours = (await session.execute(select(Booking).where(Booking.id == booking_id))).scalar_one_or_none()
        if other is None or ours is None:
            return
        log.warning("booking recorded twice; merging", booking=ours.id, other=other.id, ubrn=ubrn)
        merged = {"status": other.status if other.status != REQUESTED else ours.status,
                  "confirmed_at": other.confirmed_at, "trust_ods": ours.trust_ods or other.trust_ods,
                  "start": ours.start or other.start, "end": ours.end or other.end,
                  "last_response_code": other.last_response_code}
        await session.execute(delete(Booking).where(Booking.id == other.id))
        if merged["status"] in ENDED:
            merged["active_referral_id"] = None
        await session.execute(update(Booking).where(Booking.id == ours.id).values(ubrn=ubrn, **merged))


async def cancel(db: Database, client, settings: Settings, ods: str, booking_ref: str,
                 request_id: str | None) -> bytes:
    """Cancels a booking (by our id or its UBRN) through the broker, and answers with the broker's
    answer as it came; `request_id` makes the booking-cancel message's ids reproducible."""
    async with db.writing() as session:
        row = (await session.execute(
            select(Booking).where(Booking.gp_ods == ods, or_(Booking.id == booking_ref, Booking.ubrn == booking_ref))
            .limit(1)
        )).scalar_one_or_none()
        if row is None:
            raise not_found(f"no booking {booking_ref} at practice {ods}")
        if not row.ubrn:
            raise business_rule(f"booking {row.id} has no UBRN yet: the broker has not accepted it, "
                                "so there is nothing it could cancel")
        if row.status == CANCELLED:
            raise conflict(f"booking {row.ubrn} is already cancelled")
        if row.status == FAILED:
            raise conflict(f"booking {row.ubrn} failed; there is nothing to cancel")
        bundle_id, header_id = row.cancel_bundle_id, row.cancel_header_id
        if row.status != CANCEL_REQUESTED or not bundle_id or not header_id:
            if request_id:
                bundle_id, header_id = request_id, str(uuid.uuid5(_HEADER_NS, request_id))
            else:
                bundle_id, header_id = str(uuid.uuid4()), str(uuid.uuid4())
            # Conditional on the status read above: of two racing cancels, one sends the message.
            changed = await session.execute(
                update(Booking).where(Booking.id == row.id, Booking.status == row.status)
                .values(status=CANCEL_REQUESTED, pre_cancel_status=row.status, cancel_bundle_id=bundle_id,
                        cancel_header_id=header_id, updated_at=_now())
                .execution_options(synchronize_session=False)
            )
            if not isinstance(changed, CursorResult) or changed.rowcount != 1:
                raise conflict(f"booking {row.ubrn} changed while being cancelled; try again")
        # else: the earlier cancellation's outcome is unknown; the same message goes again.
    message = _message(BOOKING_CANCEL, replace(booking_facts(row, status="cancelled"), appointment_id=None),
                       bundle_id=bundle_id, header_id=header_id)
    try:
        answer, raw = await send_to_broker(client, settings.broker_url, message)
    except FhirError as exc:
        if exc.status < 500:
            await _refused_cancel(db, row.id, bundle_id)
        raise
    code, _ = _read_answer(answer)
    if code == "fatal-error":
        await _refused_cancel(db, row.id, bundle_id)
    return raw


async def _refused_cancel(db: Database, booking_id: str, cancel_bundle_id: str | None) -> None:
    async with db.writing() as session:
        await session.execute(
            update(Booking)
            .where(Booking.id == booking_id, Booking.status == CANCEL_REQUESTED,
                   Booking.cancel_bundle_id == cancel_bundle_id)
            .values(status=func.coalesce(Booking.pre_cancel_status, BOOKED), updated_at=_now())
        )
