"""What a trust does with a referral (`servicerequest-request`): records it against one of its services
and accepts it (ServiceRequest.status `active`). A referral sent again under another Bundle.id is the
same referral (same referral id): it is recorded once more, as a duplicate booking would be, so that
reconciliation can see it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from party_common.booking import service_dos
from party_common.clock import party_clock
from party_common.database import table_of
from party_common.identifiers import DOS_SYSTEM, is_valid_nhs_number
from party_common.inbox import Handler
from party_common.messaging import SERVICEREQUEST_REQUEST, Message
from party_common.outcome import business_rule
from party_common.referral import ReferralFacts, read_referral, service_request_resource

from party_common.trusts.catalogue import Trust
from trust_pas.models import Referral

DESTINATION = "Bundle.entry[0].resource.destination[0].endpoint"


def referral_resource(row: Referral) -> dict:
    return service_request_resource(ReferralFacts(
        referral_id=row.referral_id, nhs_number=row.nhs_number, gp_ods=row.gp_ods, service_id=row.service_id,
        trust_ods=row.ods, specialty=row.specialty, status=row.status), resource_id=row.id)


def make_referral_handlers(trust: Trust) -> dict[str, Handler]:
    by_dos = {service_dos(s.id): s for s in trust.services.values()}
    insert = table_of(Referral).insert()

    async def servicerequest_request(session: AsyncSession, msg: Message) -> list[dict]:
        read = read_referral(msg)
        f = read.facts
        if not is_valid_nhs_number(f.nhs_number):
            raise business_rule(f"{f.nhs_number[:20]!r} is not a valid NHS number", f"{read.where}.subject",
                                code="value")
        service = None
        for system, value in read.service_keys:
            service = trust.services.get(value) if system is None else by_dos.get(value) \
                if system == DOS_SYSTEM else None
            if service:
                break
        destination = msg.destination
        if service is None and destination and destination[0] == DOS_SYSTEM:
            service = by_dos.get(destination[1])
        if service is None:
            raise business_rule(f"the referral names no HealthcareService of {trust.ods}",
                                read.service_where or DESTINATION)
        row = dict(id=str(uuid.uuid4()), ods=trust.ods, referral_id=f.referral_id[:64], nhs_number=f.nhs_number,
                   gp_ods=f.gp_ods, service_id=service.id, specialty=f.specialty or service.specialty,
                   status="active", bundle_id=msg.bundle_id, created_at=party_clock().now())
        await session.execute(insert, row)
        return [referral_resource(Referral(**row))]

    return {SERVICEREQUEST_REQUEST: servicerequest_request}
