"""A referral routed by the broker (the BaRS proxy): a practice's `servicerequest-request` to the trust
that offers the service, and the trust's `servicerequest-response` back to the practice.

The same fault engine, journal and delivery modes as bookings: fire-and-forget passes the referral on
once, in line, and records it as sent whatever became of it; reliable writes the ledger entry and the
message it owes in one transaction and lets the outbox deliver, then tells the practice what the trust
answered. A referral the trust never got is a named discrepancy for reconciliation
(`referral_missing_at_pas`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import practice_org, trust_org
from party_common.clock import Clock
from party_common.database import Database
from party_common.identifiers import DOS_SYSTEM
from party_common.messaging import SERVICEREQUEST_REQUEST, SERVICEREQUEST_RESPONSE, Message
from party_common.outcome import FhirError
from party_common.referral import (
    ACCEPTED,
    REFERRAL_STATE_EXT,
    REVOKED,
    HeldReferral,
    read_referral,
    referral_message,
    service_request_resource,
)
from party_common.responses import response_bundle

from booking_broker.addressing import HEADER, sender_practice, target_service
from party_common.links.courier import Courier
from booking_broker.directory import Directory
from booking_broker.models import OutboxMessage, ProcessedMessage, ReferralEntry
from booking_broker.outbox import Outbox, outbox_row
from party_common.links.outcomes import DELIVERED, REJECTED, Delivery
from booking_broker.settings import Settings

SENT, TRUST_ACCEPTED, TRUST_REJECTED = "sent", "accepted", "rejected"


def key(referral_id: str) -> str:
    return f"referral:{referral_id}"


def entry_facts(entry: ReferralEntry) -> HeldReferral:
    return HeldReferral(referral_id=entry.referral_id, nhs_number=entry.nhs_number, gp_ods=entry.gp_ods,
                         service_id=entry.service_id, trust_ods=entry.trust_ods, specialty=entry.specialty)


def entry_resource(entry: ReferralEntry) -> dict:
    """The ledger's referral over REST, with what the trust answered as an extension."""
    sr = service_request_resource(entry_facts(entry), resource_id=None)
    sr["extension"] = [{"url": REFERRAL_STATE_EXT, "valueCode": entry.status}]
    return sr


class FlowHost(Protocol):
    """What a referral needs of the booking flow that hands it its messages (booking_flow.BookingFlow):
    the broker's parts, the delivery mode, and the flow's ways of naming, refusing and remembering."""

    settings: Settings
    db: Database
    clock: Clock
    courier: Courier
    directory: Directory
    outbox: Outbox
    derived: Callable[[str, str], str]                          # an id derived from a message's id
    passed_on: Callable[[Delivery], FhirError]                  # the receiver's refusal, as ours
    record: Callable[[Message, int, dict], ProcessedMessage]    # the answer, for a repeat of the message

    @property
    def reliable(self) -> bool: ...

    def service_endpoint(self, service_id: str, dos: str | None) -> str: ...


class ReferralFlow:
    def __init__(self, flow: FlowHost):
        self.flow = flow

    async def request(self, msg: Message, headers: Mapping[str, str]) -> tuple[int, dict]:
        flow = self.flow
        read = read_referral(msg)
        gp_ods = await sender_practice(flow.directory, msg, headers)
        service = await target_service(flow.directory, msg, headers, read.service_keys,
                                       read.service_where or f"{read.where}.performer")
        facts = HeldReferral.of(replace(read.facts, service_dos=service.dos, status=ACCEPTED,
                                        specialty=read.facts.specialty or service.specialty),
                                gp_ods=gp_ods, trust_ods=service.trust_ods, service_id=service.id)
        answer = response_bundle(msg, "ok", [service_request_resource(facts)], responder=trust_org(facts.trust_ods),
                                 bundle_id=flow.derived(msg.bundle_id, "answer"))
        now = flow.clock.now()
        entry = ReferralEntry(referral_id=facts.referral_id, nhs_number=facts.nhs_number, gp_ods=gp_ods,
                              trust_ods=facts.trust_ods, service_id=facts.service_id, specialty=facts.specialty,
                              status=SENT, request_bundle_id=msg.bundle_id, created_at=now, updated_at=now)
        link, url, body = self._pas_message(facts, msg.bundle_id)
        if flow.reliable:
            await self._commit(msg, entry, answer, [outbox_row(now, key(facts.referral_id), "referral", link,
                                                               SERVICEREQUEST_REQUEST, url, body)])
            flow.outbox.notify()
            return 200, answer
        d = await flow.courier.send(link, SERVICEREQUEST_REQUEST, "POST", url, body)
        if d.outcome == REJECTED:
            raise flow.passed_on(d)
        if d.outcome == DELIVERED:
            entry.status = TRUST_ACCEPTED
        await self._commit(msg, entry, answer, [])
        if d.outcome == DELIVERED:
            glink, gurl, gbody = self._gp_message(facts, msg.bundle_id, "ok")
            await flow.courier.send(glink, SERVICEREQUEST_RESPONSE, "POST", gurl, gbody)
        return 200, answer

    async def _commit(self, msg: Message, entry: ReferralEntry, answer: dict, rows: list) -> None:
        flow = self.flow
        try:
            async with flow.db.session() as s:
                s.add(entry)
                if flow.settings.dedupe:
                    s.add(flow.record(msg, 200, answer))
                s.add_all(rows)
                await s.commit()
        except IntegrityError:
            raise FhirError(409, "duplicate", f"referral {entry.referral_id} was already sent",
                            [f"{HEADER}.focus"], bars_code="REC_CONFLICT") from None

    async def response(self, msg: Message, headers: Mapping[str, str]) -> tuple[int, dict]:
        """A trust's own servicerequest-response, passed on to the practice it answers."""
        flow = self.flow
        read = read_referral(msg)
        async with flow.db.session() as s:
            entry = await s.get(ReferralEntry, read.facts.referral_id)
            practice = entry.gp_ods if entry else None
            destination = msg.destination
            if practice is None and destination and destination[0] == DOS_SYSTEM:
                practice = await flow.directory.practice_by_dos(destination[1])
            if practice is None:
                raise FhirError(422, "not-found", "the response answers no referral the broker routed, and its "
                                "destination is no practice the broker knows",
                                [f"{HEADER}.destination[0].endpoint"], bars_code="REC_UNPROCESSABLE_ENTITY")
            if entry is not None:
                entry.status = TRUST_ACCEPTED if read.facts.status == ACCEPTED else TRUST_REJECTED
                entry.updated_at = flow.clock.now()
                await s.commit()
        base = flow.directory.gp_base(practice)
        d = await flow.courier.send(f"broker->gp:{practice}", SERVICEREQUEST_RESPONSE, "POST",
                                    f"{base}/$process-message", msg.bundle)
        if d.outcome == REJECTED:
            raise flow.passed_on(d)
        if d.status is None or d.body is None:
            raise FhirError(503, "transient", f"the practice {practice} could not be reached ({d.outcome})",
                            bars_code="REC_SERVICE_UNAVAILABLE")
        return d.status, d.body

    async def settled(self, s: AsyncSession, row: OutboxMessage, d: Delivery) -> list[OutboxMessage]:
        """Reliable delivery: once the trust has answered, the practice is told what it said."""
        if row.kind != "referral":
            return []
        entry = await s.get(ReferralEntry, row.ubrn.removeprefix("referral:"))
        if entry is None:  # removed by a control reset while on the wire
            return []
        accepted = d.outcome == DELIVERED
        entry.status = TRUST_ACCEPTED if accepted else TRUST_REJECTED
        entry.updated_at = self.flow.clock.now()
        link, url, body = self._gp_message(entry_facts(entry), entry.request_bundle_id,
                                           "ok" if accepted else "fatal-error")
        return [outbox_row(self.flow.clock.now(), row.ubrn, "referral-gp", link, SERVICEREQUEST_RESPONSE, url, body)]

    def _pas_message(self, facts: HeldReferral, origin: str) -> tuple[str, str, dict]:
        flow = self.flow
        base = flow.directory.pas_base(facts.trust_ods)
        body = referral_message(SERVICEREQUEST_REQUEST, facts, sender=practice_org(facts.gp_ods),
                                receiver=trust_org(facts.trust_ods),
                                destination=flow.service_endpoint(facts.service_id, facts.service_dos),
                                bundle_id=flow.derived(origin, "pas:referral"),
                                header_id=flow.derived(origin, "pas:referral:header"))
        return f"broker->pas:{facts.trust_ods}", f"{base}/$process-message", body

    def _gp_message(self, facts: HeldReferral, origin: str, code: str) -> tuple[str, str, dict]:
        flow = self.flow
        practice = practice_org(facts.gp_ods)
        body = referral_message(SERVICEREQUEST_RESPONSE, replace(facts, status=ACCEPTED if code == "ok" else REVOKED),
                                sender=trust_org(facts.trust_ods), receiver=practice, destination=practice.endpoint,
                                response={"identifier": origin, "code": code},
                                bundle_id=flow.derived(origin, f"gp:referral:{code}"),
                                header_id=flow.derived(origin, "gp:referral:header"))
        return f"broker->gp:{facts.gp_ods}", f"{flow.directory.gp_base(facts.gp_ods)}/$process-message", body
