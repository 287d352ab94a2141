"""What the middleware does with the broker's messages for a trust it stands for: checks each as the
trust's PAS would (what a v2 message needs must be there), turns it into the v2 message it becomes,
queues that, and answers `ok` at once; the forwarding worker (middleware/forwarder.py) does the rest.

- `booking-request` -> `SIU^S12` (a booking-request whose Appointment is cancelled -> `SIU^S15`)
- `booking-cancel` -> `SIU^S15`
- `servicerequest-request` -> `REF^I12`

Whether the slot is still free is the PAS's to say (an `AE` later), as it was in 2006: the answer the
broker gets says only that the engine took the message.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import BookingFacts, appointment_resource, read_booking, required_ubrn
from party_common.clock import party_clock
from party_common.identifiers import DOS_SYSTEM, UBRN_SYSTEM, is_valid_nhs_number
from party_common.inbox import Handler
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST, Message
from party_common.outcome import FhirError, business_rule
from party_common.referral import read_referral, service_request_resource
from party_common.trusts.catalogue import Service, Trust
from party_common.trusts.schedule import instant_to_minute, minute_to_iso

from middleware import v2
from middleware.queue import Item, Queue

DESTINATION = "Bundle.entry[0].resource.destination[0].endpoint"


def named_service(trust: Trust, keys, msg: Message, where: str | None) -> Service:
    """The service of this trust the message names (by id or DoS id), else the one it is addressed to."""
    for system, value in keys:
        found = trust.services.get(value) if system is None else None
        if found is None and system in (None, DOS_SYSTEM):
            found = trust.by_dos.get(value)
        if found is not None:
            return found
    destination = msg.destination
    if destination and destination[0] == DOS_SYSTEM and destination[1] in trust.by_dos:
        return trust.by_dos[destination[1]]
    raise business_rule(f"the message names no HealthcareService of {trust.ods}", where or DESTINATION)


def _patient_name(msg: Message) -> tuple[str | None, str | None]:
    patient = msg.first("Patient") or {}
    name = (patient.get("name") or [{}])[0]
    given = name.get("given") or [None]
    return name.get("family"), given[0]


def _nhs_number(nhs: str, where: str) -> None:
    if not is_valid_nhs_number(nhs):
        raise business_rule(f"{nhs[:20]!r} is not a valid NHS number", where, code="value")


def make_handlers(trust: Trust, queue: Queue) -> dict[str, Handler]:
    def item(msg: Message, event: str, ubrn: str | None, nhs: str, build: Callable[[str], str]) -> Item:
        now = party_clock().now()
        control_id = v2.stable_control_id(trust.ods, msg.bundle_id, event)
        return Item(ods=trust.ods, event=event, ubrn=ubrn, nhs_number=nhs, control_id=control_id,
                    er7=build(control_id), bundle=msg.bundle, created_at=now)

    async def booking_request(session: AsyncSession, msg: Message) -> list[dict]:
        read = read_booking(msg)
        f = read.facts
        if f.status == "cancelled":
            return await booking_cancel(session, msg)
        ubrn = required_ubrn(read)
        _nhs_number(f.nhs_number, read.patient_where or f"{read.where}.participant")
        service = named_service(trust, read.service_keys, msg, read.service_where)
        slot_where = read.slot_where or f"{read.where}.slot"
        parsed = trust.slot(f.slot_id) if f.slot_id else None
        if parsed is not None and parsed[0] is service:
            k = parsed[1]
        else:
            minute = instant_to_minute(read.slot_start or f.start)
            k = service.template.ordinal_of(minute) if minute is not None else None
            if k is None:
                raise business_rule(f"the booking names no slot of {service.id}", slot_where)
        start, end = service.template.start_minute(k), service.template.end_minute(k)
        family, given = _patient_name(msg)
        booking = v2.Booking(ubrn, f.nhs_number, service.id, service.slot_id(k), start, end, family, given)
        if booking.slot_id in await queue.held_slots(trust.ods):
            # Answered before the PAS has it, a booking must still take its slot at once: a second
            # booking of it would be accepted here and refused at the trust (AE), a patient told yes
            # whom the trust never sees.
            raise FhirError(409, "conflict", f"slot {booking.slot_id} is already booked (its booking is on its "
                            f"way to {trust.ods}'s PAS)", [slot_where], bars_code="REC_CONFLICT")
        now = party_clock().now()
        queued = item(msg, BOOKING_REQUEST, ubrn, f.nhs_number, lambda cid: v2.siu_s12(trust.ods, booking, cid, now))
        queued.slot_id = booking.slot_id
        await queue.put(session, queued)
        return [appointment_resource(BookingFacts(
            ubrn=ubrn, nhs_number=f.nhs_number, trust_ods=trust.ods, gp_ods=f.gp_ods, service_id=service.id,
            slot_id=booking.slot_id, start=minute_to_iso(start), end=minute_to_iso(end), status="booked",
            specialty=service.specialty, referral_id=f.referral_id))]

    async def booking_cancel(session: AsyncSession, msg: Message) -> list[dict]:
        focus = msg.focus
        if not focus or focus.get("resourceType") != "Appointment":
            raise FhirError(422, "required", "the message's focus must be an Appointment",
                            ["Bundle.entry[0].resource.focus"])
        ubrn = next((i.get("value") for i in focus.get("identifier") or [] if i.get("system") == UBRN_SYSTEM), None)
        if not ubrn:
            # The legacy PAS knows a booking by its placer id, the UBRN: nothing else can name it.
            raise FhirError(422, "required", f"the Appointment must carry its UBRN ({UBRN_SYSTEM})",
                            [f"{msg.path(msg.focus_index or 0)}.identifier"])
        try:
            f = read_booking(msg).facts
            nhs, gp_ods, service_id, start, end = f.nhs_number, f.gp_ods, f.service_id, f.start, f.end
            # The answer names the slot only when it can give its times.
            slot_id = f.slot_id if start and end else None
        except FhirError:
            # A cancellation may name the booking by its UBRN alone.
            nhs, gp_ods, service_id, slot_id, start, end = "", None, None, None, None, None
        now = party_clock().now()
        queued = item(msg, BOOKING_CANCEL, ubrn, nhs, lambda cid: v2.siu_s15(trust.ods, ubrn, nhs, cid, now))
        await queue.put(session, queued)
        return [appointment_resource(BookingFacts(
            ubrn=ubrn, nhs_number=nhs, trust_ods=trust.ods, gp_ods=gp_ods, service_id=service_id, slot_id=slot_id,
            start=start, end=end, status="cancelled"))]

    async def servicerequest_request(session: AsyncSession, msg: Message) -> list[dict]:
        read = read_referral(msg)
        f = read.facts
        _nhs_number(f.nhs_number, f"{read.where}.subject")
        service = named_service(trust, read.service_keys, msg, read.service_where)
        now = party_clock().now()
        queued = item(msg, SERVICEREQUEST_REQUEST, None, f.nhs_number,
                      lambda cid: v2.ref_i12(trust.ods, f.referral_id[:64], f.nhs_number, f.gp_ods, service.id,
                                             cid, now))
        await queue.put(session, queued)
        f.service_id, f.trust_ods, f.status = service.id, trust.ods, "active"
        f.specialty = f.specialty or service.specialty
        return [service_request_resource(f)]

    return {BOOKING_REQUEST: booking_request, BOOKING_CANCEL: booking_cancel,
            SERVICEREQUEST_REQUEST: servicerequest_request}
