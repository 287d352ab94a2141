"""One of a trust's resources by type and id, as its reads answer it: what `_include` adds to a
searchset, so every included entry is the resource its fullUrl reads back."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from party_common.database import table_of

from party_common.trusts import resources
from party_common.trusts.catalogue import Trust
from trust_pas.models import SlotClaim
from trust_pas.slot_search import Executor

_CLAIMS = table_of(SlotClaim)
_CLAIMED = select(_CLAIMS.c.slot_id).where(_CLAIMS.c.slot_id == bindparam("slot_id"))


def site(trust: Trust, code: str):
    return next((s for s in trust.sites if s.code == code), None)


def catalogued(trust: Trust, kind: str, rid: str) -> dict | None:
    """A resource the catalogue holds (everything but Slots); None when the trust has no such one."""
    if kind == "HealthcareService" or kind == "Schedule":
        service = trust.services.get(rid)
        if service is None:
            return None
        return resources.healthcare_service(service) if kind == "HealthcareService" else resources.schedule(service)
    if kind == "Location":
        found = site(trust, rid)
        return resources.location(found) if found else None
    if kind == "Organization":
        return resources.organization(trust) if rid == trust.ods else None
    return None


async def slot(trust: Trust, executor: Executor, slot_id: str) -> dict | None:
    parsed = trust.slot(slot_id)
    if parsed is None:
        return None
    service, k = parsed
    claimed = await executor.scalar(_CLAIMED, {"slot_id": slot_id})
    return resources.slot(service, k, claimed is not None)


def resolver(trust: Trust, executor: Executor | None = None):
    """`gather`'s resolver over this trust's resources; Slots need `executor` to read their claims."""

    async def resolve(kind: str, rid: str) -> dict | None:
        if kind == "Slot":
            return await slot(trust, executor, rid) if executor is not None else None
        return catalogued(trust, kind, rid)

    return resolve
