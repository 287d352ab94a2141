"""Walking a service's generated slots against its claims, earliest first.

Each step asks the database for the claimed minutes of one window of the service's calendar (one
range query on the (service_id, start_minute) index) and walks the window's slots past them; windows
grow fourfold, so a long run of booked slots costs a handful of queries.

Bookings take the earliest slots first, so the front of a busy calendar is a solid run of claims.
A per-process hint remembers such runs; before it is trusted, one COUNT over the run checks every
slot in it is still claimed (a cancellation elsewhere would have opened a gap), so the hint makes
searches cheap without ever hiding a free slot.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .catalogue import Service
from .models import SlotClaim

FIRST_WINDOW = 32

# A search reads only, so a plain connection serves as well as a session.
Executor = AsyncSession | AsyncConnection

# Built once: constructing a statement per search costs more than running it. On the table, not the
# mapped class, so they run as plain Core statements (on a session or a connection alike).
_CLAIMS = SlotClaim.__table__
_IN_RANGE = (_CLAIMS.c.service_id == bindparam("service_id"), _CLAIMS.c.start_minute >= bindparam("lo"),
             _CLAIMS.c.start_minute < bindparam("hi"))
_CLAIMED_MINUTES = select(_CLAIMS.c.start_minute).where(*_IN_RANGE)
_CLAIM_COUNT = select(func.count()).select_from(_CLAIMS).where(*_IN_RANGE)


async def claims_between(session: Executor, service: Service, lo: int, hi: int) -> int:
    """How many of the service's slots with ordinals in [lo, hi) are claimed: one COUNT on the index."""
    t = service.template
    return await session.scalar(
        _CLAIM_COUNT, {"service_id": service.id, "lo": t.start_minute(lo), "hi": t.start_minute(hi)})


class SlotFinder:
    def __init__(self) -> None:
        # service id -> (first, stop): ordinals of a run of claimed slots seen by this process.
        self._claimed_runs: dict[str, tuple[int, int]] = {}

    async def _claimed_minutes(self, session: Executor, service: Service, lo: int, hi: int) -> set[int]:
        t = service.template
        rows = await session.execute(
            _CLAIMED_MINUTES, {"service_id": service.id, "lo": t.start_minute(lo), "hi": t.start_minute(hi)})
        return set(rows.scalars())

    async def _skip_known_run(self, session: Executor, service: Service, k: int) -> int:
        run = self._claimed_runs.get(service.id)
        if not run or not run[0] <= k < run[1]:
            return k
        claimed = await claims_between(session, service, k, run[1])
        if claimed == run[1] - k:
            return run[1]
        del self._claimed_runs[service.id]
        return k

    async def find(self, session: Executor, service: Service, lo: int, hi: int, count: int, *,
                   free: bool = True, busy: bool = False) -> list[tuple[int, bool]]:
        """Up to `count` slots with ordinals in [lo, hi), as (ordinal, busy), earliest first."""
        t = service.template
        lo, hi = t.clamp(lo), t.clamp(hi)
        found: list[tuple[int, bool]] = []
        if count <= 0 or lo >= hi or not (free or busy):
            return found
        k = await self._skip_known_run(session, service, lo) if free and not busy else lo
        # [lo, k) is known to be claimed, so a run found from k extends back to lo.
        run_start, in_run = lo, True
        window = max(FIRST_WINDOW, 2 * count)
        while k < hi and len(found) < count:
            stop = min(k + window, hi)
            claimed = await self._claimed_minutes(session, service, k, stop)
            for j in range(k, stop):
                taken = t.start_minute(j) in claimed
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
        return found

    def _remember_run(self, service: Service, first: int, stop: int) -> None:
        if stop - first >= FIRST_WINDOW:
            self._claimed_runs[service.id] = (first, stop)

    def forget(self, service_id: str) -> None:
        self._claimed_runs.pop(service_id, None)
