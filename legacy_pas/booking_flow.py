"""What the legacy PAS does with each v2 message: SIU^S12 books a slot, SIU^S15 cancels, SQM^S25
asks for free slots (answered SQR^S25), REF^I12 leaves a referral (docs/legacy-pas.md).

A handler works in the write transaction the inbox gives it and answers a `Reply`, or raises a
`V2Error`: `AR` for a message it cannot use (a required field missing or malformed), `AE` for one it
understood and refuses (a slot taken or unknown, a service or appointment unknown), each naming the field.
Slot and service ids are the trust PAS's (party_common/trusts/): the same trust has the same ids here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.clock import party_clock
from party_common.identifiers import is_valid_nhs_number
from party_common.trusts.catalogue import Service, Trust
from party_common.trusts.schedule import minute_to_datetime, minute_to_iso

from legacy_pas.free_slots import free_count, free_slots
from legacy_pas.models import Appointment, BookedSlot, Referral
from legacy_pas.v2 import (
    DATA_TYPE_ERROR, DUPLICATE_KEY_IDENTIFIER, REQUIRED_FIELD_MISSING, UNKNOWN_KEY_IDENTIFIER, Fields, Header, Reply,
    format_time, parse_time, refused, rejected, segment,
)

# What an SQM^S25 gets when QRD-7 asks for no particular number, and the most it is given (QRD-7 is
# a limit: asking for more is not an error, the answer just stops there).
DEFAULT_QUERY_COUNT = 10
MAX_QUERY_COUNT = 1000

Handler = Callable[[AsyncSession, Fields, Header], Awaitable[Reply]]


@dataclass(frozen=True)
class Kind:
    """A message type the PAS takes: its handler, whether it changes the book (so is answered once per
    control id and its answer kept) and whether it is a booking (answered after LEGACY_PAS_ACK_DELAY_MS)."""

    handler: Handler
    writes: bool
    booking: bool


def _minute(moment_text: str, seg: str, position: int) -> int:
    moment = parse_time(moment_text, seg, position)
    return int(moment.timestamp()) // 60


def _timing(service: Service, k: int) -> list[str]:
    """SCH-11 of a slot: ^^<minutes>^<start>^<end>."""
    t = service.template
    start, end = t.start_minute(k), t.end_minute(k)
    return ["", "", str(end - start), format_time(minute_to_datetime(start)), format_time(minute_to_datetime(end))]


def _nhs_number(f: Fields) -> str:
    """PID-3's repetition assigned by NHS (CX-4) or typed NH (CX-5), else its first."""
    chosen = None
    for r in range(1, f.repetitions("PID", 3) + 1):
        if f.get("PID", 3, 4, r) == "NHS" or f.get("PID", 3, 5, r) == "NH":
            chosen = f.get("PID", 3, 1, r)
            break
    chosen = (chosen if chosen is not None else f.get("PID", 3)).strip()
    if not chosen:
        raise rejected(REQUIRED_FIELD_MISSING, "PID-3 (the patient's NHS number) is required", ("PID", 3))
    if not is_valid_nhs_number(chosen):
        raise rejected(DATA_TYPE_ERROR, f"PID-3 {chosen[:20]!r} is not a valid NHS number", ("PID", 3))
    return chosen


def make_handlers(trust: Trust) -> dict[tuple[str, str], Kind]:
    """The handlers of one trust's MLLP inbox, by (MSH-9 type, trigger)."""

    def service_of(value: str, seg: str, position: int) -> Service:
        service = trust.services.get(value) or trust.services.get(value.lower()) or trust.by_dos.get(value)
        if service is None:
            raise refused(UNKNOWN_KEY_IDENTIFIER, f"{seg}-{position}: {trust.ods} has no service {value[:64]!r}",
                          (seg, position))
        return service

    def slot_of(f: Fields, service: Service) -> int:
        """The ordinal of the slot a booking names: AIL-3's slot id, else SCH-11's start within the service."""
        slot_id = f.get("AIL", 3).strip()
        if slot_id:
            found = trust.slot(slot_id)
            if found is None:
                raise refused(UNKNOWN_KEY_IDENTIFIER, f"AIL-3: {trust.ods} has no slot {slot_id[:100]!r}", ("AIL", 3))
            if found[0].id != service.id:
                raise refused(UNKNOWN_KEY_IDENTIFIER, f"AIL-3: slot {slot_id[:100]} is a slot of {found[0].id}, "
                              f"not of {service.id}", ("AIL", 3))
            return found[1]
        start = f.get("SCH", 11, 4).strip()
        if not start:
            raise rejected(REQUIRED_FIELD_MISSING, "AIL-3 (the slot id) is required", ("AIL", 3))
        k = service.template.ordinal_of(_minute(start, "SCH", 11))
        if k is None:
            raise refused(UNKNOWN_KEY_IDENTIFIER, f"SCH-11: {service.id} has no slot starting at {start}", ("SCH", 11))
        return k

    async def book(session: AsyncSession, f: Fields, header: Header) -> Reply:
        ubrn = f.required("SCH", 1, "placer appointment id, the UBRN")
        nhs_number = _nhs_number(f)
        service = service_of(f.required("AIS", 3, "service id"), "AIS", 3)
        k = slot_of(f, service)
        t = service.template
        start, end = t.start_minute(k), t.end_minute(k)
        # Times the message does give must be the slot's.
        for component, minute, what in ((4, start, "start"), (5, end, "end")):
            given = f.get("SCH", 11, component).strip()
            if given and _minute(given, "SCH", 11) != minute:
                raise refused(UNKNOWN_KEY_IDENTIFIER, f"SCH-11: the slot's {what} is "
                              f"{format_time(minute_to_datetime(minute))}, not {given[:20]}", ("SCH", 11))
        slot_id = service.slot_id(k)
        holder = await session.get(BookedSlot, slot_id)
        if holder is not None:
            if holder.ubrn == ubrn:
                # The same booking sent again under a new control id: booked once, and said so.
                return Reply("AA", f"already booked as {holder.filler_id}")
            raise refused(DUPLICATE_KEY_IDENTIFIER, f"AIL-3: slot {slot_id} is already booked", ("AIL", 3))
        held = await session.scalar(select(func.count()).select_from(Appointment).where(Appointment.ods == trust.ods))
        filler_id = f"{trust.ods}-{(held or 0) + 1:08d}"
        now = party_clock().now()
        session.add(BookedSlot(slot_id=slot_id, ods=trust.ods, service_id=service.id, start_minute=start,
                               filler_id=filler_id, ubrn=ubrn))
        session.add(Appointment(
            filler_id=filler_id, ods=trust.ods, ubrn=ubrn, nhs_number=nhs_number,
            family=f.get("PID", 5, 1)[:64] or None, given=f.get("PID", 5, 2)[:64] or None,
            service_id=service.id, slot_id=slot_id, start=minute_to_iso(start), end=minute_to_iso(end),
            status="booked", control_id=header.control_id, created_at=now, updated_at=now))
        # Flushed here so a slot taken meanwhile (PostgreSQL) fails inside this message's transaction.
        await session.flush()
        return Reply("AA", f"booked as {filler_id}")

    async def cancel(session: AsyncSession, f: Fields, header: Header) -> Reply:
        ubrn = f.required("SCH", 1, "placer appointment id, the UBRN")
        rows = (await session.scalars(select(Appointment).where(Appointment.ods == trust.ods,
                                                                Appointment.ubrn == ubrn))).all()
        if not rows:
            raise refused(UNKNOWN_KEY_IDENTIFIER, f"SCH-1: {trust.ods} holds no appointment {ubrn}", ("SCH", 1))
        booked = [r for r in rows if r.status == "booked"]
        if not booked:
            return Reply("AA", "already cancelled")
        now = party_clock().now()
        for r in booked:
            r.status = "cancelled"
            r.updated_at = now
        await session.execute(delete(BookedSlot).where(BookedSlot.filler_id.in_([r.filler_id for r in booked])))
        return Reply("AA", "cancelled " + " ".join(r.filler_id for r in booked))

    async def query(session: AsyncSession, f: Fields, header: Header) -> Reply:
        query_id = f.required("QRD", 4, "query id")
        asked = f.get("QRD", 7).strip()
        if not asked:
            count = DEFAULT_QUERY_COUNT
        elif asked.isdigit() and int(asked) > 0:
            count = min(int(asked), MAX_QUERY_COUNT)
        else:
            raise rejected(DATA_TYPE_ERROR, f"QRD-7 {asked[:20]!r} must be a count of 1 or more", ("QRD", 7))
        service = service_of(f.required("AIS", 3, "service id"), "AIS", 3)
        t = service.template
        # ARQ-11 as the profile writes it (^^^<from>^<to>), or as a plain range (<from>^<to>).
        lo_text = f.get("ARQ", 11, 4).strip() or f.get("ARQ", 11, 1).strip()
        hi_text = f.get("ARQ", 11, 5).strip() or f.get("ARQ", 11, 2).strip()
        lo = _minute(lo_text, "ARQ", 11) if lo_text else t.start_minute(t.first)
        hi = _minute(hi_text, "ARQ", 11) if hi_text else t.start_minute(t.stop)
        found = await free_slots(session, service, lo, hi, count)
        # QAK-4 hit count total, QAK-5 this payload, QAK-6 hits remaining: the sender learns how many
        # there are without walking every page (one count on the booked-slot index).
        hits = await free_count(session, service, lo, hi)
        segments = [segment("QAK", query_id, "OK" if found else "NF", "", str(hits), str(len(found)),
                            str(max(hits - len(found), 0)))]
        for i, k in enumerate(found, start=1):
            slot_id, timing = service.slot_id(k), _timing(service, k)
            segments += [
                segment("SCH", "", slot_id, *[""] * 8, timing, *[""] * 13, "FREE"),
                segment("RGS", str(i)),
                segment("AIS", str(i), "", service.id, timing[3]),
                segment("AIL", str(i), "", slot_id),
            ]
        return Reply("AA", f"{len(found)} free slot{'s' if len(found) != 1 else ''}", segments,
                     ["SQR", "S25", "SQR_S25"])

    async def refer(session: AsyncSession, f: Fields, header: Header) -> Reply:
        referral_id = f.required("RF1", 6, "referral id")
        nhs_number = _nhs_number(f)
        # PRD segments by role (PRD-1): RP the referring practice, RT the service referred to (PRD-7
        # each); the service may be given as RF1-3 instead.
        roles = {f.get("PRD", 1, occurrence=i): i for i in range(f.count("PRD"), 0, -1)}
        practice = f.get("PRD", 7, occurrence=roles.get("RP", 1))[:64] or None
        asked = f.get("RF1", 3).strip()
        where = ("RF1", 3)
        if not asked and "RT" in roles:
            asked, where = f.get("PRD", 7, occurrence=roles["RT"]).strip(), ("PRD", 7)
        service = service_of(asked, *where) if asked else None
        held = await session.scalar(select(Referral).where(Referral.ods == trust.ods,
                                                           Referral.referral_id == referral_id))
        if held is not None:
            return Reply("AA", f"referral {referral_id} already held")
        now = party_clock().now()
        session.add(Referral(ods=trust.ods, referral_id=referral_id, nhs_number=nhs_number,
                             practice_ods=practice,
                             service_id=service.id if service else None, status="received",
                             control_id=header.control_id, created_at=now, updated_at=now))
        await session.flush()
        return Reply("AA", f"referral {referral_id} received")

    return {
        ("SIU", "S12"): Kind(book, writes=True, booking=True),
        ("SIU", "S15"): Kind(cancel, writes=True, booking=True),
        ("SQM", "S25"): Kind(query, writes=False, booking=False),
        ("REF", "I12"): Kind(refer, writes=True, booking=False),
    }
