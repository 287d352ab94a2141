"""Walking a service's generated slots against its claims, earliest first.

Each step asks the database for the claimed minutes of one window of the service's calendar (one
range query on the (service_id, start_minute) index) and walks the window's slots past them; windows
grow fourfold, so a long run of booked slots costs a handful of queries.

Bookings take the earliest slots first, so the front of a busy calendar is a solid run of claims.
A per-process hint remembers such runs; before it is trusted, one COUNT over the run checks every
slot in it is still claimed (a cancellation elsewhere would have opened a gap), so the hint makes
searches cheap without ever hiding a free slot.

A search's `total` needs the claims of its whole range counted. That count rides on the walk's
first query (the run check or the first window), so it costs no round trip of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, and_, bindparam, case, cast, func, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from party_common.database import table_of

from party_common.trusts.catalogue import Service
from trust_pas.models import SlotClaim

FIRST_WINDOW = 32

# A search reads only, so a plain connection serves as well as a session.
Executor = AsyncSession | AsyncConnection

# Built once: constructing a statement per search costs more than running it. On the table, not the
# mapped class, so they run as plain Core statements (on a session or a connection alike).
_CLAIMS = table_of(SlotClaim)
_MINUTE = _CLAIMS.c.start_minute
_SERVICE = _CLAIMS.c.service_id == bindparam("service_id")
_IN_RANGE = (_SERVICE, _MINUTE >= bindparam("lo"), _MINUTE < bindparam("hi"))
_IN_TOTAL = (_SERVICE, _MINUTE >= bindparam("tlo"), _MINUTE < bindparam("thi"))
_CLAIMED_MINUTES = select(_MINUTE).where(*_IN_RANGE)
_CLAIM_COUNT = select(func.count()).select_from(_CLAIMS).where(*_IN_RANGE)
# The first window's claimed minutes, rows (minute, NULL), and one row (NULL, claims in the total range).
_CLAIMED_MINUTES_AND_TOTAL = union_all(
    select(_MINUTE, cast(null(), Integer)).where(*_IN_RANGE),
    select(cast(null(), Integer), func.count()).select_from(_CLAIMS).where(*_IN_TOTAL),
)
# A remembered run's claims and the total range's, counted in one pass over both ranges.
_RUN_AND_TOTAL_COUNTS = select(
    func.count(case((and_(_MINUTE >= bindparam("lo"), _MINUTE < bindparam("hi")), 1))),
    func.count(case((and_(_MINUTE >= bindparam("tlo"), _MINUTE < bindparam("thi")), 1))),
).select_from(_CLAIMS).where(_SERVICE, _MINUTE >= bindparam("wlo"), _MINUTE < bindparam("whi"))


async def claims_between(session: Executor, service: Service, lo: int, hi: int) -> int:
    """How many of the service's slots with ordinals in [lo, hi) are claimed: one COUNT on the index."""
    t = service.template
    count = await session.scalar(
        _CLAIM_COUNT, {"service_id": service.id, "lo": t.start_minute(lo), "hi": t.start_minute(hi)})
    return count or 0  # COUNT always answers a row: scalar() is typed for queries that may find none


@dataclass
class Found:
    slots: list[tuple[int, bool]]  # (ordinal, busy), earliest first
    claimed: int | None  # claims in the range `find` was asked to count; None when not asked


class SlotFinder:
    def __init__(self) -> None:
        # service id -> (first, stop): ordinals of a run of claimed slots seen by this process.
        self._claimed_runs: dict[str, tuple[int, int]] = {}

    async def _claimed_minutes(self, session: Executor, service: Service, lo: int, hi: int,
                               total: dict | None) -> tuple[set[int], int | None]:
        t = service.template
        params = {"service_id": service.id, "lo": t.start_minute(lo), "hi": t.start_minute(hi)}
        if total is None:
            return set((await session.execute(_CLAIMED_MINUTES, params)).scalars()), None
        rows = (await session.execute(_CLAIMED_MINUTES_AND_TOTAL, {**params, **total})).all()
        return {m for m, _ in rows if m is not None}, next(n for m, n in rows if m is None)

    async def _skip_known_run(self, session: Executor, service: Service, k: int,
                              total: dict | None) -> tuple[int, int | None]:
        run = self._claimed_runs.get(service.id)
        if not run or not run[0] <= k < run[1]:
            return k, None
        t = service.template
        lo, hi = t.start_minute(k), t.start_minute(run[1])
        if total is None:
            claimed, counted = await claims_between(session, service, k, run[1]), None
        else:
            row = (await session.execute(_RUN_AND_TOTAL_COUNTS, {
                "service_id": service.id, "lo": lo, "hi": hi, **total,
                "wlo": min(lo, total["tlo"]), "whi": max(hi, total["thi"])})).one()
            claimed, counted = row
        if claimed == run[1] - k:
            return run[1], counted
        del self._claimed_runs[service.id]
        return k, counted

    async def find(self, session: Executor, service: Service, lo: int, hi: int, count: int, *,
                   free: bool = True, busy: bool = False, count_claims: tuple[int, int] | None = None) -> Found:
        """Up to `count` slots with ordinals in [lo, hi), earliest first; with `count_claims`, also
        how many slots with ordinals in that range are claimed."""
        t = service.template
        lo, hi = t.clamp(lo), t.clamp(hi)
        found: list[tuple[int, bool]] = []
        total = None if count_claims is None else {
            "tlo": t.start_minute(count_claims[0]), "thi": t.start_minute(count_claims[1])}
        claimed = None
        if count > 0 and lo < hi and (free or busy):
            k = lo
            if free and not busy:
                k, claimed = await self._skip_known_run(session, service, lo, total)
            # [lo, k) is known to be claimed, so a run found from k extends back to lo.
            run_start, in_run = lo, True
            window = max(FIRST_WINDOW, 2 * count)
            while k < hi and len(found) < count:
                stop = min(k + window, hi)
                minutes, counted = await self._claimed_minutes(
                    session, service, k, stop, total if claimed is None else None)
                claimed = counted if claimed is None else claimed
                for j in range(k, stop):
                    taken = t.start_minute(j) in minutes
                    if in_run and not taken:
                        in_run = False
                        self._remember_run(service, run_start, j)
                    if (busy and taken) or (free and not taken):
                        found.append((j, taken))
                        if len(found) == count:
                            break
                k = stop
                window *= 4
            if in_run:
                self._remember_run(service, run_start, k)
        if count_claims is not None and claimed is None:
            claimed = await claims_between(session, service, *count_claims)
        return Found(found, claimed)

    def _remember_run(self, service: Service, first: int, stop: int) -> None:
        if stop - first >= FIRST_WINDOW:
            self._claimed_runs[service.id] = (first, stop)

    def forget(self, service_id: str) -> None:
        self._claimed_runs.pop(service_id, None)
