"""One booking (or cancellation) end to end, as the broker orchestrates it.

GP request -> UBRN from the spine -> booking message to the trust -> ledger entry -> confirmation to
the practice -> report to the spine's booking index. In fire-and-forget delivery each message gets
one attempt and the ledger says booked whatever became of it: the 2006 behaviour.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from party_common.booking import BookingFacts, appointment_resource, booking_from_message, booking_message
from party_common.database import Database
from party_common.identifiers import UBRN_SYSTEM
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, Message, message_bundle, response_bundle
from party_common.outcome import FhirError

from .directory import Directory
from .links import REJECTED, Courier
from .models import LedgerEntry, ProcessedMessage
from .settings import Settings

log = structlog.get_logger("booking")


class BookingFlow:
    def __init__(self, settings: Settings, db: Database, courier: Courier, directory: Directory):
        self.settings = settings
        self.db = db
        self.courier = courier
        self.directory = directory
        self.source = settings.public_url.rstrip("/")

    # -- the inbox from GP systems -------------------------------------------------------------

    async def process(self, msg: Message) -> tuple[int, dict]:
        gp_ods = msg.sender_ods
        link = f"gp:{gp_ods or 'unknown'}->broker"
        if self.settings.dedupe:
            stored = await self._stored(msg)
            if stored is not None:
                self.courier.stats.record(link, msg.event, "duplicate")
                return stored.status_code, orjson.loads(stored.response)
        try:
            if msg.event == BOOKING_REQUEST:
                status, body = await self._book(msg, gp_ods)
            elif msg.event == BOOKING_CANCEL:
                status, body = await self._cancel(msg, gp_ods)
            else:
                raise FhirError(422, "not-supported", f"event {msg.event!r} is not handled by the broker",
                                ["Bundle.entry[0].resource.eventCoding.code"])
        except FhirError as exc:
            self.courier.stats.record(link, msg.event, "rejected" if exc.status < 500 else "failed")
            if exc.status < 500 and self.settings.dedupe:
                await self._store(msg, exc.status, exc.outcome())
            raise
        self.courier.stats.record(link, msg.event, "delivered")
        return status, body

    async def _stored(self, msg: Message):
        async with self.db.session() as s:
            q = select(ProcessedMessage).where(ProcessedMessage.bundle_id == msg.bundle_id)
            found = (await s.execute(q)).scalar_one_or_none()
            if found is None and msg.header_id:
                q = select(ProcessedMessage).where(ProcessedMessage.header_id == msg.header_id)
                found = (await s.execute(q.limit(1))).scalar_one_or_none()
            return found

    def _record(self, msg: Message, status: int, body: dict) -> ProcessedMessage:
        return ProcessedMessage(bundle_id=msg.bundle_id, header_id=msg.header_id, event=msg.event,
                                status_code=status, response=orjson.dumps(body).decode(),
                                received_at=datetime.now(timezone.utc))

    async def _store(self, msg: Message, status: int, body: dict) -> None:
        try:
            async with self.db.session() as s:
                s.add(self._record(msg, status, body))
                await s.commit()
        except IntegrityError:
            pass

    # -- booking ---------------------------------------------------------------------------------

    async def _book(self, msg: Message, gp_ods: str | None) -> tuple[int, dict]:
        if not gp_ods:
            raise FhirError(422, "required", "MessageHeader.sender must identify the practice by ODS code",
                            ["Bundle.entry[0].resource.sender"])
        facts = booking_from_message(msg, require_ubrn=False)
        service = await self.directory.service(facts.service_id)
        if service is None:
            raise FhirError(422, "business-rule", f"no trust offers service {facts.service_id!r}",
                            [f"Bundle.entry[{msg.first_index('Appointment')}].resource.participant"])
        ubrn = await self._allocate_ubrn(facts.nhs_number)
        facts = replace(facts, ubrn=ubrn, trust_ods=service.trust_ods, gp_ods=gp_ods, status="booked",
                        specialty=facts.specialty or service.specialty)

        pas = await self._send_to_pas(BOOKING_REQUEST, facts)
        if pas.outcome == REJECTED:
            # The trust said no (slot taken, unknown slot): nothing was booked, so nothing is recorded.
            raise _passed_on(pas)

        now = datetime.now(timezone.utc)
        answer = response_bundle(msg, "ok", [appointment_resource(facts)], source_endpoint=self.source)
        async with self.db.session() as s:
            s.add(LedgerEntry(
                ubrn=ubrn, nhs_number=facts.nhs_number, gp_ods=gp_ods, trust_ods=service.trust_ods,
                service_id=facts.service_id, slot_id=facts.slot_id, start=facts.start, end=facts.end,
                specialty=facts.specialty, referral_id=facts.referral_id, status="booked",
                request_bundle_id=msg.bundle_id, created_at=now, updated_at=now,
            ))
            if self.settings.dedupe:
                s.add(self._record(msg, 200, answer))
            await s.commit()

        await self._confirm_to_gp(msg, BOOKING_REQUEST, facts, gp_ods)
        await self._report_to_spine(BOOKING_REQUEST, facts)
        return 200, answer

    async def _allocate_ubrn(self, nhs_number: str) -> str:
        params = {"resourceType": "Parameters", "parameter": [{"name": "nhsNumber", "valueString": nhs_number}]}
        d = await self.courier.send("broker->spine", "allocate-ubrn", "POST",
                                    f"{self.settings.spine_url.rstrip('/')}/$allocate-ubrn", params)
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

    async def _cancel(self, msg: Message, gp_ods: str | None) -> tuple[int, dict]:
        requested = booking_from_message(msg, require_ubrn=True)
        async with self.db.session() as s:
            entry = await s.get(LedgerEntry, requested.ubrn)
            if entry is None:
                raise FhirError(404, "not-found", f"no booking with UBRN {requested.ubrn}",
                                [f"Bundle.entry[{msg.first_index('Appointment')}].resource.identifier"])
            facts = _facts(entry)
        facts.status = "cancelled"
        pas = await self._send_to_pas(BOOKING_CANCEL, facts)
        if pas.outcome == REJECTED and pas.status != 422:
            raise _passed_on(pas)
        answer = response_bundle(msg, "ok", [appointment_resource(facts)], source_endpoint=self.source)
        async with self.db.session() as s:
            entry = await s.get(LedgerEntry, requested.ubrn)
            entry.status = "cancelled"
            entry.updated_at = datetime.now(timezone.utc)
            if self.settings.dedupe:
                s.add(self._record(msg, 200, answer))
            await s.commit()
        await self._confirm_to_gp(msg, BOOKING_CANCEL, facts, facts.gp_ods)
        await self._report_to_spine(BOOKING_CANCEL, facts)
        return 200, answer

    # -- outbound messages -----------------------------------------------------------------------

    async def _send_to_pas(self, event: str, facts: BookingFacts):
        base = self.directory.pas_base(facts.trust_ods)
        bundle = booking_message(event, facts, source_endpoint=self.source, destination_endpoint=base,
                                 sender_ods=facts.gp_ods, receiver_ods=facts.trust_ods,
                                 reason="new" if event == BOOKING_REQUEST else "cancel")
        return await self.courier.send(f"broker->pas:{facts.trust_ods}", event, "POST",
                                       f"{base}/$process-message", bundle)

    async def _confirm_to_gp(self, request: Message, event: str, facts: BookingFacts, gp_ods: str):
        base = self.directory.gp_base(gp_ods)
        bundle = message_bundle(
            event, [appointment_resource(facts)], source_endpoint=self.source, destination_endpoint=base,
            receiver_ods=gp_ods, reason=None, response={"identifier": request.bundle_id, "code": "ok"},
        )
        return await self.courier.send(f"broker->gp:{gp_ods}", event, "POST", f"{base}/$process-message", bundle)

    async def _report_to_spine(self, event: str, facts: BookingFacts):
        spine = self.settings.spine_url.rstrip("/")
        bundle = booking_message(event, facts, source_endpoint=self.source, destination_endpoint=spine,
                                 sender_ods=facts.gp_ods, receiver_ods=None,
                                 reason="new" if event == BOOKING_REQUEST else "cancel")
        return await self.courier.send("broker->spine", event, "POST", f"{spine}/$process-message", bundle)


def _facts(entry: LedgerEntry) -> BookingFacts:
    return BookingFacts(
        ubrn=entry.ubrn, nhs_number=entry.nhs_number, trust_ods=entry.trust_ods, gp_ods=entry.gp_ods,
        service_id=entry.service_id, slot_id=entry.slot_id, start=entry.start, end=entry.end,
        status=entry.status, specialty=entry.specialty, referral_id=entry.referral_id,
    )


def ledger_appointment(entry: LedgerEntry) -> dict:
    facts = _facts(entry)
    facts.appointment_id = entry.ubrn
    return appointment_resource(facts)


def _passed_on(d) -> FhirError:
    """A receiver's refusal, passed back to the practice with the receiver's own OperationOutcome."""
    body = d.body if isinstance(d.body, dict) else {}
    issues = body.get("issue") or [{}]
    first = issues[0]
    err = FhirError(d.status or 502, first.get("code", "processing"),
                    first.get("diagnostics", f"{d.link} refused the message"), first.get("expression"))
    return err
