"""The national booking index: what each UBRN is booked as, kept from the broker's messages."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import BookingFacts, appointment_resource, booking_from_message
from party_common.database import Database
from party_common.inbox import Inbox
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Message
from party_common.outcome import business_rule

from .models import BookingIndexEntry, ProcessedMessage

_UBRN = re.compile(r"\d{12}")
_UPDATED_ON_REBOOK = ("nhs_number", "trust_ods", "gp_ods", "service_id", "slot_id", "start", "end", "status",
                      "specialty", "referral_id", "updated_at")


def entry_facts(row: BookingIndexEntry) -> BookingFacts:
    # The UBRN doubles as the entry's id: it is unique in the index and a valid FHIR id.
    return BookingFacts(
        ubrn=row.ubrn, nhs_number=row.nhs_number, trust_ods=row.trust_ods, gp_ods=row.gp_ods,
        service_id=row.service_id, slot_id=row.slot_id, start=row.start, end=row.end, status=row.status,
        specialty=row.specialty, appointment_id=row.ubrn, referral_id=row.referral_id,
    )


def entry_resource(row: BookingIndexEntry) -> dict:
    return appointment_resource(entry_facts(row))


def _focus_expression(msg: Message) -> str:
    for i, entry in enumerate(msg.bundle.get("entry", [])):
        if entry.get("resource") is msg.focus:
            return f"Bundle.entry[{i}].resource"
    return "Bundle.entry"


def _booking(msg: Message) -> tuple[BookingFacts, str]:
    facts = booking_from_message(msg)
    where = _focus_expression(msg)
    if not _UBRN.fullmatch(facts.ubrn or ""):
        raise business_rule(f"UBRN {facts.ubrn!r} is not 12 digits", f"{where}.identifier")
    return facts, where


def _upsert(session: AsyncSession):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(BookingIndexEntry)


async def record_booking(session: AsyncSession, msg: Message) -> list[dict]:
    facts, _ = _booking(msg)
    row = BookingIndexEntry(
        ubrn=facts.ubrn, nhs_number=facts.nhs_number, trust_ods=facts.trust_ods, gp_ods=facts.gp_ods,
        service_id=facts.service_id, slot_id=facts.slot_id, start=facts.start, end=facts.end,
        status="booked", specialty=facts.specialty, referral_id=facts.referral_id,
        updated_at=datetime.now(timezone.utc),
    )
    values = {col: getattr(row, col) for col in ("ubrn", *_UPDATED_ON_REBOOK)}
    # One atomic upsert: two messages for the same UBRN racing cannot both insert, and a rebooking
    # after a cancel replaces the entry.
    stmt = _upsert(session).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[BookingIndexEntry.ubrn], set_={col: stmt.excluded[col] for col in _UPDATED_ON_REBOOK},
    )
    await session.execute(stmt)
    return [entry_resource(row)]


async def record_cancel(session: AsyncSession, msg: Message) -> list[dict]:
    facts, where = _booking(msg)
    cancelled = (await session.execute(
        update(BookingIndexEntry).where(BookingIndexEntry.ubrn == facts.ubrn)
        .values(status="cancelled", updated_at=datetime.now(timezone.utc))
        .returning(BookingIndexEntry)
    )).scalar_one_or_none()
    if cancelled is None:
        raise business_rule(f"no booking with UBRN {facts.ubrn} in the index", f"{where}.identifier")
    return [entry_resource(cancelled)]


def booking_index_inbox(db: Database, *, endpoint: str, dedupe: bool) -> Inbox:
    return Inbox(db, ProcessedMessage, {BOOKING_REQUEST: record_booking, BOOKING_CANCEL: record_cancel},
                 source_endpoint=endpoint, dedupe=dedupe)
