"""The national booking index: what each UBRN is booked as, kept from the broker's messages."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import Insert, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import SPINE, BookingFacts, appointment_resource, read_booking, require
from party_common.clock import party_clock
from party_common.database import Database, table_of
from party_common.inbox import Handler, Inbox
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Message
from party_common.outcome import business_rule

from spine_mock.models import BookingIndexEntry, ProcessedMessage

_UBRN = re.compile(r"\d{12}")
# Statements go on the table, not the mapped class: Core statements skip the ORM's machinery.
_INDEX = table_of(BookingIndexEntry)
_UPDATED_ON_REBOOK = ("nhs_number", "trust_ods", "gp_ods", "service_id", "slot_id", "start", "end", "status",
                      "specialty", "referral_id", "updated_at")


def entry_facts(row) -> BookingFacts:
    # The UBRN doubles as the entry's id: it is unique in the index and a valid FHIR id.
    return BookingFacts(
        ubrn=row.ubrn, nhs_number=row.nhs_number, trust_ods=row.trust_ods, gp_ods=row.gp_ods,
        service_id=row.service_id, slot_id=row.slot_id, start=row.start, end=row.end, status=row.status,
        specialty=row.specialty, appointment_id=row.ubrn, referral_id=row.referral_id,
    )


def entry_resource(row) -> dict:
    """The index entry (an ORM row or a Core row of the table) as its Appointment."""
    return appointment_resource(entry_facts(row))


def _booking(msg: Message) -> tuple[BookingFacts, str]:
    read = read_booking(msg)
    facts = require(read, ubrn=True, ids=True)
    where = read.where
    if not _UBRN.fullmatch(facts.ubrn or ""):
        raise business_rule(f"UBRN {facts.ubrn!r} is not 12 digits", f"{where}.identifier")
    return facts, where


def _upsert(dialect) -> Insert:
    # One atomic upsert: two messages for the same UBRN racing cannot both insert, and a rebooking
    # after a cancel replaces the entry. Built once per database: building it per message costs more
    # than running it.
    stmt = dialect.insert(_INDEX)
    return stmt.on_conflict_do_update(
        index_elements=[_INDEX.c.ubrn], set_={col: stmt.excluded[col] for col in _UPDATED_ON_REBOOK},
    )


_CANCEL = (update(_INDEX).where(_INDEX.c.ubrn == bindparam("ubrn_key"))
           .values(status="cancelled", updated_at=bindparam("updated_at"))
           .returning(*_INDEX.c))


def make_handlers(is_sqlite: bool) -> dict[str, Handler]:
    upsert = _upsert(sqlite if is_sqlite else postgresql)

    async def record_booking(session: AsyncSession, msg: Message) -> list[dict]:
        facts, _ = _booking(msg)
        values = {
            "ubrn": facts.ubrn, "nhs_number": facts.nhs_number, "trust_ods": facts.trust_ods,
            "gp_ods": facts.gp_ods, "service_id": facts.service_id, "slot_id": facts.slot_id,
            "start": facts.start, "end": facts.end, "status": "booked", "specialty": facts.specialty,
            "referral_id": facts.referral_id, "updated_at": party_clock().now(),
        }
        await session.execute(upsert, values)
        return [appointment_resource(replace(facts, status="booked", appointment_id=facts.ubrn))]

    async def record_cancel(session: AsyncSession, msg: Message) -> list[dict]:
        facts, where = _booking(msg)
        cancelled = (await session.execute(
            _CANCEL, {"ubrn_key": facts.ubrn, "updated_at": party_clock().now()})).first()
        if cancelled is None:
            raise business_rule(f"no booking with UBRN {facts.ubrn} in the index", f"{where}.identifier")
        return [entry_resource(cancelled)]

    return {BOOKING_REQUEST: record_booking, BOOKING_CANCEL: record_cancel}


def booking_index_inbox(db: Database, *, dedupe: bool) -> Inbox:
    return Inbox(db, ProcessedMessage, make_handlers(db.is_sqlite), responder=SPINE, dedupe=dedupe)
