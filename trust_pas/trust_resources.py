"""One of a trust's resources by type and id, as its reads answer it: what `_include` adds to a
searchset, so every included entry is the resource its fullUrl reads back."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from party_common.database import table_of

from party_common.trusts import resources
from party_common.trusts.resources import catalogued, site  # noqa: F401  (the routes import them from here)
from party_common.trusts.catalogue import Trust
from trust_pas.models import SlotClaim
from trust_pas.slot_search import Executor

_CLAIMS = table_of(SlotClaim)
_CLAIMED = select(_CLAIMS.c.slot_id).where(_CLAIMS.c.slot_id == bindparam("slot_id"))


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
