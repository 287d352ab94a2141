"""What a trust does with `booking-request` and `booking-cancel` messages.

A booking names its service and slot as BaRS does: by the Slot entry's id when it is one of this
trust's slot ids, else by the Slot's start within the service its Schedule names (by id or by any of the
service's identifiers, its DoS id among them) or, failing that, the service the message is addressed to
(`MessageHeader.destination.endpoint`). It needs no UBRN: one the broker allocated travels on the
Appointment and is kept; a booking without one (sent straight to the PAS) is keyed by its Bundle.id.

A booking claims its slot in `slot_claims` (primary key slot_id): a slot held under another booking key
is a 409 conflict, while one already held under the same key is taken as the same booking arriving again
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

from party_common.booking import BookingRead, read_booking, service_dos
from party_common.clock import party_clock
from party_common.database import table_of
from party_common.identifiers import DOS_SYSTEM, MESSAGE_EVENT_SYSTEM, UBRN_SYSTEM, is_valid_nhs_number
from party_common.inbox import Handler
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Message
from party_common.outcome import FhirError, business_rule, conflict

from party_common.trusts import resources
from party_common.trusts.catalogue import Service, Trust
from trust_pas.models import Appointment, SlotClaim
from party_common.trusts.schedule import instant_to_minute, minute_to_iso, stamp_to_minute
from trust_pas.slot_search import SlotFinder

MAX_TEXT = 64


DESTINATION = "Bundle.entry[0].resource.destination[0].endpoint"


def _check_event_system(msg: Message) -> None:
    if msg.event_system != MESSAGE_EVENT_SYSTEM:
        raise FhirError(422, "not-supported",
                        f"event {msg.event!r} must be coded in {MESSAGE_EVENT_SYSTEM}, not {msg.event_system!r}",
                        ["Bundle.entry[0].resource.eventCoding.system"])


def _bounded(value: str | None, what: str, expression: str) -> None:
    if value is not None and len(value) > MAX_TEXT:
        raise business_rule(f"{what} is longer than {MAX_TEXT} characters", expression, code="value")


def _service(trust: Trust, by_dos: dict[str, Service], read: BookingRead) -> Service:
    """The service of this trust the booking names (its Schedule's or participant's HealthcareService),
    else the one it is addressed to."""
    for system, value in read.service_keys:
        found = trust.services.get(value) if system is None else None
        if found is None and system in (None, DOS_SYSTEM):
            found = by_dos.get(value)
        if found is not None:
            return found
    destination = read.msg.destination
    if destination and destination[0] == DOS_SYSTEM and destination[1] in by_dos:
        return by_dos[destination[1]]
    named = ", ".join(v[:40] for _, v in read.service_keys[:3]) or "none"
    raise business_rule(f"the booking names no HealthcareService of {trust.ods} (HealthcareService {named}; "
                        f"destination {destination[1][:60] if destination else 'none'})",
                        read.service_where or DESTINATION)


def _slot(trust: Trust, service: Service, read: BookingRead) -> int:
    """The ordinal of the booked slot in the service's template."""
    f, where = read.facts, read.slot_where or f"{read.where}.slot"
    if f.slot_id:
        slot_service, _, stamp = f.slot_id.rpartition("-")
        if slot_service != service.id and slot_service in trust.services:
            # A slot of another of this trust's services: a contradiction, not something to guess at.
            raise business_rule(f"Slot/{f.slot_id[:100]} is a slot of {slot_service}, not of {service.id}", where)
        minute = stamp_to_minute(stamp)
        k = service.template.ordinal_of(minute) if slot_service == service.id and minute is not None else None
        if k is not None:
            return k
    start = instant_to_minute(read.slot_start)
    if start is None:
        if f.slot_id:
            raise business_rule(f"Slot/{f.slot_id[:100]} is not a slot of {service.id}", where)
        raise FhirError(422, "required", "the booking must name its Slot (by id, or by start within its "
                        "Schedule)", [where])
    k = service.template.ordinal_of(start)
    if k is None:
        raise business_rule(f"{service.id} has no slot starting at {read.slot_start}", f"{where}.start")
    end = instant_to_minute(read.slot_end)
    if end is not None and end != service.template.end_minute(k):
        raise business_rule(f"the slot starting at {read.slot_start} ends at "
                            f"{minute_to_iso(service.template.end_minute(k))}", f"{where}.end")
    return k


def make_handlers(trust: Trust, finder: SlotFinder, *, is_sqlite: bool) -> dict[str, Handler]:
    by_dos = {service_dos(s.id): s for s in trust.services.values()}

    # Statements built once and run with parameters: building them per message costs more than running
    # them. On the tables, not the mapped classes, so they run as plain Core statements.
    insert = sqlite_insert if is_sqlite else pg_insert
    claims = table_of(SlotClaim)
    claim_stmt = (insert(claims).on_conflict_do_nothing(index_elements=["slot_id"])
                  .returning(claims.c.slot_id))
    holder_stmt = select(claims.c.ubrn).where(claims.c.slot_id == bindparam("slot_id"))
    appointment_stmt = table_of(Appointment).insert()

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
        read = read_booking(msg)
        facts, where = read.facts, read.where
        if facts.status == "cancelled":
            # BaRS cancels a booking by sending it again with the Appointment cancelled.
            return await booking_cancel(session, msg)
        _bounded(facts.ubrn, "the UBRN", f"{where}.identifier")
        _bounded(facts.gp_ods, "the referrer's ODS code", "Bundle.entry[0].resource.sender")
        _bounded(facts.referral_id, "the referral id", f"{where}.basedOn")
        if not is_valid_nhs_number(facts.nhs_number):
            raise business_rule(f"{facts.nhs_number[:20]!r} is not a valid NHS number",
                                read.patient_where or f"{where}.participant", code="value")
        service = _service(trust, by_dos, read)
        if facts.trust_ods and facts.trust_ods.upper() != trust.ods:
            raise business_rule(f"the booking names trust {facts.trust_ods[:20]!r} as the service's provider, "
                                f"but was sent to {trust.ods}", f"{read.service_where}.providedBy")
        if facts.specialty and facts.specialty != service.specialty:
            raise business_rule(f"{service.id} offers {service.specialty}, not {facts.specialty[:40]!r}",
                                f"{where}.serviceType")
        k = _slot(trust, service, read)
        start, end = service.template.start_minute(k), service.template.end_minute(k)
        slot_id = service.slot_id(k)
        # The slot fixes the times; times the Appointment does give must be the slot's.
        if facts.start is not None and instant_to_minute(facts.start) != start:
            raise business_rule(f"start must be the slot's start {minute_to_iso(start)}", f"{where}.start")
        if facts.end is not None and instant_to_minute(facts.end) != end:
            raise business_rule(f"end must be the slot's end {minute_to_iso(end)}", f"{where}.end")
        key = facts.ubrn or f"bundle:{msg.bundle_id}"

        now = party_clock().now()
        holder = await claim(session, {
            "slot_id": slot_id, "ods": trust.ods, "service_id": service.id, "start_minute": start,
            "ubrn": key, "claimed_at": now,
        })
        if holder is not None and holder != key:
            raise conflict(f"slot {slot_id} is already booked", read.slot_where or f"{where}.slot")
        row = dict(
            id=str(uuid.uuid4()), ods=trust.ods, ubrn=facts.ubrn, nhs_number=facts.nhs_number,
            gp_ods=facts.gp_ods, service_id=service.id, slot_id=slot_id, start=minute_to_iso(start),
            end=minute_to_iso(end), status="booked", specialty=service.specialty,
            referral_id=facts.referral_id, bundle_id=msg.bundle_id, created_at=now, updated_at=now,
        )
        try:
            # A Core insert: the ORM unit of work would cost more than the rest of this handler.
            await session.execute(appointment_stmt, row)
        except IntegrityError:
            raise conflict(f"slot {slot_id} was booked concurrently", read.slot_where or f"{where}.slot") from None
        return [resources.appointment(SimpleNamespace(**row))]

    async def booking_cancel(session: AsyncSession, msg: Message) -> list[dict]:
        _check_event_system(msg)
        focus_index = msg.focus_index
        focus = msg.entry(focus_index) if focus_index is not None else None
        if focus_index is None or not focus or focus.get("resourceType") != "Appointment":
            raise FhirError(422, "required", "the message's focus must be an Appointment",
                            ["Bundle.entry[0].resource.focus"])
        where = msg.path(focus_index)
        ubrn = next((i.get("value") for i in focus.get("identifier") or [] if i.get("system") == UBRN_SYSTEM),
                    None)
        _bounded(ubrn, "the UBRN", f"{where}.identifier")
        _bounded(focus.get("id"), "the Appointment id", f"{where}.id")
        # A booking made without a UBRN is known by the id this PAS gave its Appointment.
        if ubrn:
            chosen = Appointment.ubrn == ubrn
        elif focus.get("id"):
            chosen = Appointment.id == focus["id"]
        else:
            raise FhirError(422, "required", f"the Appointment must carry its UBRN ({UBRN_SYSTEM}) or the id "
                            "this PAS gave it", [f"{where}.identifier"])
        rows = (await session.scalars(
            select(Appointment).where(Appointment.ods == trust.ods, chosen)
            .order_by(Appointment.created_at.desc(), Appointment.id)
        )).all()
        if not rows:
            raise business_rule(f"{trust.ods} holds no appointment {ubrn or focus['id']}", f"{where}.identifier")
        booked = [r for r in rows if r.status == "booked"]
        if booked:
            now = party_clock().now()
            for r in booked:
                r.status = "cancelled"
                r.updated_at = now
            keys = {r.ubrn or f"bundle:{r.bundle_id}" for r in booked}
            await session.execute(delete(SlotClaim).where(
                SlotClaim.ubrn.in_(keys), SlotClaim.slot_id.in_({r.slot_id for r in booked})))
            try:
                await session.flush()
            except IntegrityError:
                raise conflict(f"the booking {ubrn or focus['id']} changed while being cancelled",
                               f"{where}.identifier") from None
            for service_id in {r.service_id for r in booked}:
                finder.forget(service_id)
        return [resources.appointment(r) for r in rows]

    return {BOOKING_REQUEST: booking_request, BOOKING_CANCEL: booking_cancel}
