"""The free slots of a service between two times: its clinic template walked against the booked slots.

A slot is free unless an appointment holds it (`booked_slots`). Each step reads the booked minutes of
one window of the calendar (one range query on the (service_id, start_minute) index); windows grow
fourfold, so a long run of booked slots costs a handful of queries. How many are free between two
times is the template's slots there less the booked ones: one count on the same index.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.trusts.catalogue import Service

from legacy_pas.models import BookedSlot

FIRST_WINDOW = 32


async def free_slots(session: AsyncSession, service: Service, lo_minute: int, hi_minute: int,
                     count: int) -> list[int]:
    """Ordinals of up to `count` free slots starting in [lo_minute, hi_minute), earliest first."""
    t = service.template
    k = t.clamp(t.ordinal_at_or_after(lo_minute))
    stop = t.clamp(t.ordinal_at_or_after(hi_minute))
    found: list[int] = []
    window = max(FIRST_WINDOW, 2 * count)
    while k < stop and len(found) < count:
        end = min(k + window, stop)
        booked = set((await session.scalars(
            select(BookedSlot.start_minute).where(
                BookedSlot.service_id == service.id,
                BookedSlot.start_minute >= t.start_minute(k),
                BookedSlot.start_minute < t.start_minute(end)))).all())
        for j in range(k, end):
            if t.start_minute(j) not in booked:
                found.append(j)
                if len(found) == count:
                    break
        k = end
        window *= 4
    return found


async def free_count(session: AsyncSession, service: Service, lo_minute: int, hi_minute: int) -> int:
    """How many of the service's slots starting in [lo_minute, hi_minute) are free."""
    t = service.template
    k = t.clamp(t.ordinal_at_or_after(lo_minute))
    stop = t.clamp(t.ordinal_at_or_after(hi_minute))
    if k >= stop:
        return 0
    booked = await session.scalar(
        select(func.count()).select_from(BookedSlot).where(
            BookedSlot.service_id == service.id,
            BookedSlot.start_minute >= t.start_minute(k),
            BookedSlot.start_minute < t.start_minute(stop)))
    return stop - k - (booked or 0)
