"""The practice inbox's handler for a trust's answer to a referral (`servicerequest-response`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.messaging import Message
from party_common.outcome import business_rule
from party_common.referral import ACCEPTED, read_referral

from gp_system.models import Referral
from gp_system.views import referral_view

ACCEPTED_STATE, REJECTED_STATE, SENT_STATE = "accepted", "rejected", "sent"


async def apply_referral_response(session: AsyncSession, ods: str, msg: Message) -> list[dict]:
    read = read_referral(msg)
    f = read.facts
    row = (await session.execute(select(Referral).where(Referral.id == f.referral_id, Referral.gp_ods == ods))
           ).scalar_one_or_none()
    if row is None:
        raise business_rule(f"practice {ods} made no referral {f.referral_id[:64]}", f"{read.where}.identifier")
    code = (msg.response or {}).get("code")
    accepted = f.status == ACCEPTED and code in (None, "ok")
    row.referral_state = ACCEPTED_STATE if accepted else REJECTED_STATE
    row.trust_ods = f.trust_ods or row.trust_ods
    row.service_id = f.service_id or row.service_id
    await session.flush()
    return [referral_view(row)]
