"""One booking (or cancellation) end to end, as the broker orchestrates it.

GP request -> UBRN from the spine -> booking message to the trust -> ledger entry -> confirmation to
the practice -> report to the spine's booking index.

- fire-and-forget (2006): each message gets one attempt, in line; the ledger says booked whatever
  became of the trust's copy, and the practice is told so.
- reliable: the ledger entry and the messages it owes are written in one transaction (the outbox);
  the practice's request is acknowledged at once, and the outbox worker delivers with retries. The
  practice is confirmed (or told of the trust's refusal) only once the trust has answered.

Outbound message ids derive from the practice's request id, so a retry is the same message (the
receiver's dedupe sees it as such) and a rerun of the same scenario journals the same ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from dataclasses import replace

import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import retry_if_result

from party_common.booking import (
    BROKER,
    SPINE,
    BookingRead,
    HeldBooking,
    appointment_resource,
    booking_message,
    practice_org,
    read_booking,
    required_ubrn,
    service_dos,
    trust_org,
)
from party_common.clock import Clock
from party_common.database import Database
from party_common.identifiers import UBRN_SYSTEM, dos_token
from party_common.inbox import reused_id
from party_common.messaging import (
    BOOKING_CANCEL,
    BOOKING_REQUEST,
    SERVICEREQUEST_REQUEST,
    SERVICEREQUEST_RESPONSE,
    Message,
)
from party_common.outcome import FhirError
from party_common.responses import response_bundle

from party_common.links.courier import Courier
from booking_broker.addressing import HEADER, sender_practice, target_service
from booking_broker.directory import Directory, Service
from booking_broker.models import LedgerEntry, OutboxMessage, ProcessedMessage
from booking_broker.outbox import Outbox, outbox_row
from party_common.links.outcomes import DELIVERED, REJECTED, RETRYABLE, Delivery
from booking_broker.referral_flow import ReferralFlow
from booking_broker.retries import clocked_retrying, keep_result, stop_after
from booking_broker.settings import Settings
from booking_broker.slot_search import first_free_slot

log = structlog.get_logger("booking")

_ID_NAMESPACE = uuid.UUID("6f1c1c3e-6a8e-4c44-9a55-2d0f3f0f7a11")
RELIABLE = "reliable"


def derived_id(origin: str, purpose: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{origin}|{purpose}"))


class BookingFlow:
    def __init__(self, settings: Settings, db: Database, courier: Courier, directory: Directory, outbox: Outbox,
                 clock: Clock):
        self.settings = settings
        self.clock = clock
        self.delivery = settings.delivery
        self.db = db
        self.courier = courier
        self.directory = directory
        self.outbox = outbox
        outbox.on_settled = self._settled
        self.referrals = ReferralFlow(self)
        self._in_progress: dict[str, list] = {}   # Bundle.id -> [lock, holders and waiters]
        self.rebook_locks: dict[str, asyncio.Lock] = {}   # service id -> one repair move at a time (rebooking.py)
        # What the referral flow shares with bookings.
        self.derived, self.passed_on, self.record = derived_id, _passed_on, self._record

    @property
    def reliable(self) -> bool:
        return self.delivery == RELIABLE

    # -- the inbox from GP systems -------------------------------------------------------------

    async def process(self, msg: Message, headers: Mapping[str, str] | None = None) -> tuple[int, dict]:
        """One message at a time per Bundle.id: copies of a message arriving together (a sender's
        retries racing its first try) wait for the first, then get its stored answer, rather than
        each allocating a UBRN and colliding on the dedupe record."""
        if not self.settings.dedupe:
            return await self._process(msg, headers)
        entry = self._in_progress.setdefault(msg.bundle_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._process(msg, headers)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._in_progress[msg.bundle_id]

    async def _process(self, msg: Message, headers: Mapping[str, str] | None) -> tuple[int, dict]:
        if self.settings.dedupe:
            stored = await self._stored(msg)
            if stored is not None:
                if stored.digest and stored.digest != msg.content_digest():
                    raise reused_id(msg)
                return stored.status_code, orjson.loads(stored.response)
        headers = headers or {}
        try:
            if msg.event == BOOKING_REQUEST:
                read = read_booking(msg)
                if read.facts.status == "cancelled":
                    # BaRS cancels by sending the booking again with its Appointment cancelled.
                    return await self._cancel(msg, read)
                return await self._book(msg, read, headers)
            if msg.event == BOOKING_CANCEL:
                return await self._cancel(msg, read_booking(msg))
            if msg.event == SERVICEREQUEST_REQUEST:
                return await self.referrals.request(msg, headers)
            if msg.event == SERVICEREQUEST_RESPONSE:
                return await self.referrals.response(msg, headers)
            raise FhirError(422, "not-supported", f"event {msg.event!r} is not handled by the broker",
                            [f"{HEADER}.eventCoding.code"], bars_code="REC_UNPROCESSABLE_ENTITY")
        except FhirError as exc:
            if exc.status < 500 and self.settings.dedupe:
                await self._store(msg, exc.status, exc.outcome())
            raise

    async def _stored(self, msg: Message):
        async with self.db.session() as s:
            found = await s.get(ProcessedMessage, msg.bundle_id)
            if found is None and msg.header_id:
                q = select(ProcessedMessage).where(ProcessedMessage.header_id == msg.header_id).limit(1)
                found = (await s.execute(q)).scalar_one_or_none()
            return found

    def _record(self, msg: Message, status: int, body: dict) -> ProcessedMessage:
        return ProcessedMessage(bundle_id=msg.bundle_id, header_id=msg.header_id, event=msg.event,
                                status_code=status, response=orjson.dumps(body).decode(),
                                digest=msg.content_digest(), received_at=self.clock.now())

    async def _store(self, msg: Message, status: int, body: dict) -> None:
        try:
            async with self.db.session() as s:
                s.add(self._record(msg, status, body))
                await s.commit()
        except IntegrityError:
            pass

    # -- booking ---------------------------------------------------------------------------------

    async def _book(self, msg: Message, read: BookingRead, headers: Mapping[str, str]) -> tuple[int, dict]:
        # Everything that can refuse the booking is settled before anything is spent: no UBRN is
        # allocated and no slot taken for a booking the broker could not confirm to its sender.
        gp_ods = await sender_practice(self.directory, msg, headers)
        service = await target_service(self.directory, msg, headers, read.service_keys,
                                       read.service_where or f"{read.where}.participant")
        slot_id, start, end = await self._slot(read, service)
        ubrn = await self._allocate_ubrn(read.facts.nhs_number, msg.bundle_id)
        facts = HeldBooking.of(replace(read.facts, service_dos=service.dos, start=start, end=end, status="booked",
                                       specialty=read.facts.specialty or service.specialty, appointment_id=None),
                               ubrn=ubrn, gp_ods=gp_ods, trust_ods=service.trust_ods, service_id=service.id,
                               slot_id=slot_id)
        answer = response_bundle(msg, "ok", [appointment_resource(facts)], responder=trust_org(facts.trust_ods),
                                 bundle_id=derived_id(msg.bundle_id, "answer"))

        if self.reliable:
            pas_row = self._pas_row(BOOKING_REQUEST, facts, msg.bundle_id)
            await self._commit_booking(msg, facts, answer, [pas_row])
            self.outbox.notify()
            return 200, answer

        pas = await self._send_to_pas(BOOKING_REQUEST, facts, msg.bundle_id)
        if pas.outcome == REJECTED:
            # The trust said no (slot taken, unknown slot): nothing was booked, so nothing is recorded.
            raise _passed_on(pas)
        await self._commit_booking(msg, facts, answer, [])
        await self._confirm_to_gp(msg.bundle_id, BOOKING_REQUEST, facts, "ok")
        await self._report_to_spine(BOOKING_REQUEST, facts, msg.bundle_id)
        return 200, answer

    async def _slot(self, read: BookingRead, service: Service) -> tuple[str, str, str]:
        """The trust's slot id and times: the Slot's own when it carries the trust's id and its times,
        else the free slot of the service that starts when the Slot says (asked of the trust)."""
        f = read.facts
        start, end = f.start or read.slot_start, f.end or read.slot_end
        if f.slot_id and f.slot_id.startswith(f"{service.id}-") and start and end:
            return f.slot_id, start, end
        where = read.slot_where or f"{read.where}.slot"
        wanted = read.slot_start or f.start
        if not wanted:
            raise FhirError(422, "required", "the booking must name its Slot: the trust's slot id, or the "
                            "Slot's start", [where], bars_code="REC_UNPROCESSABLE_ENTITY")
        slot = await first_free_slot(self.directory, self.courier, service, wanted)
        if slot is None or not _same_instant(slot.get("start"), wanted):
            raise FhirError(409, "conflict", f"{service.id} has no free slot starting at {wanted}", [where],
                            bars_code="REC_CONFLICT")
        return slot["id"], slot["start"], slot["end"]

    async def _commit_booking(self, msg: Message, facts: HeldBooking, answer: dict, rows: list) -> None:
        now = self.clock.now()
        async with self.db.session() as s:
            s.add(LedgerEntry(
                ubrn=facts.ubrn, nhs_number=facts.nhs_number, gp_ods=facts.gp_ods, trust_ods=facts.trust_ods,
                service_id=facts.service_id, slot_id=facts.slot_id, start=facts.start, end=facts.end,
                specialty=facts.specialty, referral_id=facts.referral_id, status="booked",
                request_bundle_id=msg.bundle_id, created_at=now, updated_at=now,
            ))
            if self.settings.dedupe:
                s.add(self._record(msg, 200, answer))
            s.add_all(rows)
            await s.commit()

    async def _allocate_ubrn(self, nhs_number: str, origin: str) -> str:
        url = f"{self.settings.spine_url.rstrip('/')}/$allocate-ubrn"
        params = {"resourceType": "Parameters", "parameter": [{"name": "nhsNumber", "valueString": nhs_number}]}
        if self.reliable:
            # The practice is waiting on the line: retry while the spine is away, within a bound.
            attempts = 0
            d: Delivery | None = None
            async for attempt in clocked_retrying(
                self.clock, origin, multiplier=0.02, max_s=1.0,
                stop=stop_after(self.clock, self.settings.reliable_wait_s),
                retry=retry_if_result(lambda r: r.outcome in RETRYABLE),
                # On giving up, the last attempt's delivery (read late on purpose) is the answer.
                retry_error_callback=lambda s: d,  # noqa: B023
            ):
                with attempt:
                    attempts += 1
                    d = await self.courier.send("broker->spine", "allocate-ubrn", "POST", url, params,
                                                attempt=attempts)
                keep_result(attempt, d)
            if d is None:  # no attempt ran: tenacity gave up before the first
                raise FhirError(503, "transient", "the spine could not be asked for a UBRN")
        else:
            d = await self.courier.send("broker->spine", "allocate-ubrn", "POST", url, params)
        if d.outcome == REJECTED:
            raise _passed_on(d)
        if not d.ok or not d.body:
            raise FhirError(503, "transient", f"the spine could not allocate a UBRN ({d.outcome})")
        for p in d.body.get("parameter", []):
            ident = p.get("valueIdentifier") or {}
            if p.get("name") == "ubrn" and ident.get("system") == UBRN_SYSTEM:
                return ident["value"]
        raise FhirError(502, "exception", "the spine's $allocate-ubrn answer held no UBRN")

    # -- cancellation ----------------------------------------------------------------------------

    async def _cancel(self, msg: Message, read: BookingRead) -> tuple[int, dict]:
        ubrn = required_ubrn(read)
        async with self.db.session() as s:
            facts = ledger_facts(await ledger_entry(s, ubrn, f"{read.where}.identifier"))
        facts.status = "cancelled"
        answer = response_bundle(msg, "ok", [appointment_resource(facts)], responder=trust_org(facts.trust_ods),
                                 bundle_id=derived_id(msg.bundle_id, "answer"))
        if self.reliable:
            await self._commit_cancel(msg, facts, answer, [self._pas_row(BOOKING_CANCEL, facts, msg.bundle_id)])
            self.outbox.notify()
            return 200, answer
        pas = await self._send_to_pas(BOOKING_CANCEL, facts, msg.bundle_id)
        if pas.outcome == REJECTED and pas.status != 422:
            raise _passed_on(pas)
        await self._commit_cancel(msg, facts, answer, [])
        await self._confirm_to_gp(msg.bundle_id, BOOKING_CANCEL, facts, "ok")
        await self._report_to_spine(BOOKING_CANCEL, facts, msg.bundle_id)
        return 200, answer

    async def _commit_cancel(self, msg: Message, facts: HeldBooking, answer: dict, rows: list) -> None:
        async with self.db.session() as s:
            entry = await ledger_entry(s, facts.ubrn)
            entry.status = "cancelled"
            entry.cancel_bundle_id = msg.bundle_id
            entry.updated_at = self.clock.now()
            if self.settings.dedupe:
                s.add(self._record(msg, 200, answer))
            s.add_all(rows)
            await s.commit()

    # -- reliable delivery: what follows when the outbox settles a message ------------------------

    async def _settled(self, s: AsyncSession, row: OutboxMessage, d: Delivery) -> list[OutboxMessage]:
        if row.kind.startswith("referral"):
            return await self.referrals.settled(s, row, d)
        if row.kind != "pas":
            return []
        entry = await ledger_entry(s, row.ubrn)
        facts = ledger_facts(entry)
        cancelling = row.event == BOOKING_CANCEL
        origin = _origin(entry, cancelling)
        if d.outcome == DELIVERED or (cancelling and d.status == 422):
            return [self._gp_row(origin, row.event, facts, "ok"), self._spine_row(row.event, facts, origin)]
        # The trust refused for good: a booking did not happen; a cancellation did not either, so
        # the booking stands, and the practice is told the cancellation failed.
        entry.status = "booked" if cancelling else "rejected"
        entry.updated_at = self.clock.now()
        return [self._gp_row(origin, row.event, facts, "fatal-error")]

    # -- messages --------------------------------------------------------------------------------

    def service_endpoint(self, service_id: str, dos: str | None) -> str:
        """The service's DoS id as the trust lists it (a real PAS has its own), else as the message
        named it, else the testbed's for its id."""
        service = self.directory.services.get(service_id)
        return dos_token(service.dos if service else dos or service_dos(service_id))

    # `ids`, when given, is what the message ids derive from instead of `origin`: a rebooked booking's
    # (LedgerEntry.rebook_origin), whose news of its new slot must not reuse the ids of the old.
    def _pas_message(self, event: str, facts: HeldBooking, origin: str, ids: str | None = None
                     ) -> tuple[str, str, dict]:
        base = self.directory.pas_base(facts.trust_ods)
        ids = ids or origin
        body = booking_message(event, facts, sender=practice_org(facts.gp_ods), receiver=trust_org(facts.trust_ods),
                               destination=self.service_endpoint(facts.service_id, facts.service_dos),
                               bundle_id=derived_id(ids, f"pas:{event}"),
                               header_id=derived_id(ids, f"pas:{event}:header"))
        return f"broker->pas:{facts.trust_ods}", f"{base}/$process-message", body

    def _gp_message(self, origin: str, event: str, facts: HeldBooking, code: str, ids: str | None = None
                    ) -> tuple[str, str, dict]:
        base = self.directory.gp_base(facts.gp_ods)
        practice = practice_org(facts.gp_ods)
        ids = ids or origin
        # The answer is always to the practice's own request (`origin`), whatever the ids derive from.
        body = booking_message(event, facts, sender=trust_org(facts.trust_ods), receiver=practice,
                               destination=practice.endpoint, response={"identifier": origin, "code": code},
                               bundle_id=derived_id(ids, f"gp:{event}:{code}"),
                               header_id=derived_id(ids, f"gp:{event}:header"))
        return f"broker->gp:{facts.gp_ods}", f"{base}/$process-message", body

    def _spine_message(self, event: str, facts: HeldBooking, origin: str, ids: str | None = None
                       ) -> tuple[str, str, dict]:
        spine = self.settings.spine_url.rstrip("/")
        ids = ids or origin
        body = booking_message(event, facts, sender=BROKER, receiver=SPINE, destination=SPINE.endpoint,
                               bundle_id=derived_id(ids, f"spine:{event}"),
                               header_id=derived_id(ids, f"spine:{event}:header"))
        return "broker->spine", f"{spine}/$process-message", body

    def _pas_row(self, event: str, facts: HeldBooking, origin: str) -> OutboxMessage:
        return self._row(facts, "pas", event, self._pas_message(event, facts, origin))

    def _gp_row(self, origin: str, event: str, facts: HeldBooking, code: str) -> OutboxMessage:
        return self._row(facts, "gp", event, self._gp_message(origin, event, facts, code))

    def _spine_row(self, event: str, facts: HeldBooking, origin: str) -> OutboxMessage:
        return self._row(facts, "spine", event, self._spine_message(event, facts, origin))

    def _row(self, facts: HeldBooking, kind: str, event: str, message: tuple[str, str, dict]) -> OutboxMessage:
        link, url, body = message
        return outbox_row(self.clock.now(), facts.ubrn, kind, link, event, url, body)

    async def _send_to_pas(self, event: str, facts: HeldBooking, origin: str, purpose: str = "delivery",
                           ids: str | None = None) -> Delivery:
        link, url, body = self._pas_message(event, facts, origin, ids)
        return await self.courier.send(link, event, "POST", url, body, ubrn=facts.ubrn, purpose=purpose)

    async def _confirm_to_gp(self, origin: str, event: str, facts: HeldBooking, code: str,
                             purpose: str = "delivery", ids: str | None = None) -> Delivery:
        link, url, body = self._gp_message(origin, event, facts, code, ids)
        return await self.courier.send(link, event, "POST", url, body, ubrn=facts.ubrn, purpose=purpose)

    async def _report_to_spine(self, event: str, facts: HeldBooking, origin: str, purpose: str = "delivery",
                               ids: str | None = None) -> Delivery:
        link, url, body = self._spine_message(event, facts, origin, ids)
        return await self.courier.send(link, event, "POST", url, body, ubrn=facts.ubrn, purpose=purpose)

    # -- repair ------------------------------------------------------------------------------------

    async def resend(self, ubrn: str, target: str) -> Delivery:
        """Sends a party the ledger's current state of a booking again, as the same message.

        The message ids are those of the original delivery, so a receiver that already has it
        answers from its dedupe store and changes nothing: a repair is safe to repeat.
        """
        async with self.db.session() as s:
            entry = await s.get(LedgerEntry, ubrn)
        if entry is None:
            raise FhirError(404, "not-found", f"no booking with UBRN {ubrn}")
        if entry.status == "rejected":
            raise FhirError(422, "business-rule", f"booking {ubrn} was refused by its trust: nothing to resend")
        facts = ledger_facts(entry)
        event = BOOKING_CANCEL if entry.status == "cancelled" else BOOKING_REQUEST
        origin = _origin(entry, event == BOOKING_CANCEL)
        ids = entry.rebook_origin if event == BOOKING_REQUEST else None
        if target == "pas":
            return await self._send_to_pas(event, facts, origin, purpose="repair", ids=ids)
        if target == "gp":
            return await self._confirm_to_gp(origin, event, facts, "ok", purpose="repair", ids=ids)
        if target == "spine":
            return await self._report_to_spine(event, facts, origin, purpose="repair", ids=ids)
        raise FhirError(400, "invalid", f"target must be pas, gp or spine, not {target!r}",
                        ["Parameters.parameter[0].valueCode"])


async def ledger_entry(s: AsyncSession, ubrn: str, where: str | None = None) -> LedgerEntry:
    """The ledger's entry for `ubrn`; 404 when there is none (a control reset may remove it between
    the reads of one request)."""
    entry = await s.get(LedgerEntry, ubrn)
    if entry is None:
        raise FhirError(404, "not-found", f"no booking with UBRN {ubrn}", [where] if where else None)
    return entry


def _origin(entry: LedgerEntry, cancelling: bool) -> str:
    """The Bundle.id of the practice's message that set the entry's state: the messages the broker
    sends on about it derive their ids from it."""
    if not cancelling:
        return entry.request_bundle_id
    if entry.cancel_bundle_id is None:  # _commit_cancel sets both together
        raise RuntimeError(f"booking {entry.ubrn} is cancelled but records no cancel message")
    return entry.cancel_bundle_id


def ledger_facts(entry: LedgerEntry) -> HeldBooking:
    return HeldBooking(
        ubrn=entry.ubrn, nhs_number=entry.nhs_number, trust_ods=entry.trust_ods, gp_ods=entry.gp_ods,
        service_id=entry.service_id, slot_id=entry.slot_id, start=entry.start, end=entry.end,
        status=entry.status, specialty=entry.specialty, referral_id=entry.referral_id,
    )


def ledger_appointment(entry: LedgerEntry) -> dict:
    facts = ledger_facts(entry)
    facts.appointment_id = entry.ubrn
    if facts.status == "rejected":
        facts.status = "entered-in-error"
    return appointment_resource(facts)


def _same_instant(a: str | None, b: str | None) -> bool:
    try:
        return a is not None and b is not None and \
            datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return False


def _passed_on(d: Delivery) -> FhirError:
    """A receiver's refusal, passed back to the practice with the receiver's own OperationOutcome."""
    body = d.body if isinstance(d.body, dict) else {}
    first = (body.get("issue") or [{}])[0]
    return FhirError(d.status or 502, first.get("code", "processing"),
                     first.get("diagnostics", f"{d.link} refused the message"), first.get("expression"))
