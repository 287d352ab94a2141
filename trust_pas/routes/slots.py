"""Slots: generated from each service's template, `busy` when claimed by a booking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import bindparam, select

from party_common.identifiers import SLOT_STATUSES
from party_common.database import table_of
from party_common.fhir_json import FhirResponse
from party_common.outcome import FhirError, Issue, invalid, not_found, operation_outcome
from party_common.search import SearchQuery, gather, openapi_parameters, search_bundle

from party_common.trusts import resources
from party_common.trusts.catalogue import Service, Trust
from trust_pas.dependencies import DbDep, SessionDep, SlotFinderDep, TrustDep, trust_base
from trust_pas.models import SlotClaim
from trust_pas.searches import SLOT
from trust_pas.slot_search import Executor, SlotFinder
from trust_pas.slot_target import named_services, slot_target
from trust_pas.trust_resources import resolver, slot

router = APIRouter()

# A search by `_id` looks every named slot's claim up in one IN list; longer lists are refused rather
# than sent to the database (SQLite caps a statement's parameters).
MAX_IDS = 1000

SlotQuery = Annotated[SearchQuery, Depends(SLOT.dependency)]
_CLAIMS = table_of(SlotClaim)
_CLAIMED_AMONG = select(_CLAIMS.c.slot_id).where(_CLAIMS.c.slot_id.in_(bindparam("ids", expanding=True)))


def _statuses(q: SearchQuery) -> tuple[bool, bool]:
    """(free, busy): which of the two states the search wants (both when `status` is not given)."""
    codes = q.codes("status")
    if codes is None:
        return True, True
    unknown = codes - set(SLOT_STATUSES)
    if unknown:
        raise invalid(f"status must be one of {', '.join(SLOT_STATUSES)}; got {', '.join(sorted(unknown))}",
                      "status")
    return "free" in codes, "busy" in codes


def _ordinals(service: Service, q: SearchQuery) -> tuple[int, int]:
    """[lo, hi): the ordinals of the service's slots that `start` allows."""
    t = service.template
    window = q.window("start")
    lo_minute, hi_minute = window.low_minute(), window.high_minute()
    lo = t.first if lo_minute is None else t.ordinal_at_or_after(lo_minute)
    hi = t.stop if hi_minute is None else t.ordinal_at_or_after(hi_minute)
    return t.clamp(lo), t.clamp(hi)


async def _one_service(q: SearchQuery, trust: Trust, service: Service, conn: Executor, finder: SlotFinder,
                       base: str, free: bool, busy: bool) -> dict:
    lo, hi = _ordinals(service, q)
    # The total is arithmetic on the template: the window's slots, less (free) or only (busy) the
    # claims in it, which the finder counts on its first query.
    only_one = free != busy
    start = lo if q.cursor is None else max(lo, q.cursor)
    # One more than the page: when there is one, the next page starts at it, and a next link is given
    # only when a next page holds something.
    # `_total=none` (the broker's look-up of a booking's slot): no count of the window's claims at all.
    counting = q.total_wanted or q.total_only
    found = await finder.find(conn, service, start, hi, q.count + 1 if q.count else 0, free=free, busy=busy,
                              count_claims=(lo, hi) if counting and only_one and lo < hi else None)
    total: int | None
    if not counting:
        total = None
    elif not (free or busy) or lo >= hi:
        total = 0
    elif not only_one:
        total = hi - lo
    else:
        assert found.claimed is not None, "counted: count_claims was given"
        total = found.claimed if busy else hi - lo - found.claimed
    slots = found.slots
    next_position = slots.pop()[0] if len(slots) > q.count else None
    matches = [resources.slot(service, k, taken) for k, taken in slots]
    included = await gather(matches, q.includes, resolver(trust, conn)) if matches else []
    return search_bundle(q, matches, total=total, base=base, path="Slot", next_position=next_position,
                         included=included)


async def _by_ids(q: SearchQuery, trust: Trust, conn: Executor, base: str) -> dict:
    """A search by `_id`: the named slots, filtered by the other parameters, earliest first."""
    ids = q.ids() or set()
    if len(ids) > MAX_IDS:
        raise FhirError(400, "too-costly", f"_id names {len(ids)} slots; at most {MAX_IDS} a search", ["_id"])
    services = named_services(trust, q)
    window = q.window("start")
    free, busy = _statuses(q)
    candidates = []
    for slot_id in ids:
        parsed = trust.slot(slot_id)
        if parsed is None or (services is not None and parsed[0].id not in services):
            continue
        service, k = parsed
        minute = service.template.start_minute(k)
        if window.holds(minute * 60_000_000):
            candidates.append((minute, slot_id, service, k))
    candidates.sort(key=lambda c: (c[0], c[1]))
    claimed = set()
    if candidates:
        claimed = set((await conn.execute(_CLAIMED_AMONG, {"ids": [c[1] for c in candidates]})).scalars())
    matched = [(service, k, slot_id in claimed) for _, slot_id, service, k in candidates
               if (busy and slot_id in claimed) or (free and slot_id not in claimed)]
    at = q.cursor or 0
    page = matched[at:at + q.count] if q.count else []
    slots = [resources.slot(service, k, taken) for service, k, taken in page]
    included = await gather(slots, q.includes, resolver(trust, conn)) if slots else []
    end = at + q.count
    return search_bundle(q, slots, total=len(matched), base=base, path="Slot",
                         next_position=end if q.count and end < len(matched) else None, included=included)


@router.get("/{ods}/Slot", openapi_extra={"parameters": openapi_parameters(SLOT)})
async def search_slots(trust: TrustDep, request: Request, db: DbDep, finder: SlotFinderDep, q: SlotQuery):
    """Slots of one service, earliest first; `next` continues at the next slot of the calendar."""
    base = trust_base(request, trust)
    # Returned as responses, not dicts, to skip FastAPI's jsonable_encoder walk on a hot path.
    if q.has("_id"):
        async with db.engine.connect() as conn:
            return FhirResponse(await _by_ids(q, trust, conn, base))
    target = slot_target(trust, q, request.headers)
    free, busy = _statuses(q)
    if target.service is None:
        outcome = operation_outcome([Issue("not-found", f"{trust.ods} has no such service: what "
                                           f"{', '.join(target.named_by)} name", target.named_by,
                                           severity="warning")])
        return FhirResponse(search_bundle(q, [], total=0, base=base, path="Slot", outcome=outcome))
    async with db.engine.connect() as conn:
        return FhirResponse(await _one_service(q, trust, target.service, conn, finder, base, free, busy))


@router.get("/{ods}/Slot/{slot_id}")
async def read_slot(trust: TrustDep, slot_id: str, session: SessionDep):
    found = await slot(trust, session, slot_id)
    if found is None:
        raise not_found(f"no Slot/{slot_id} at {trust.ods}")
    return FhirResponse(found)
