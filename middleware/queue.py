"""The middleware's queue of v2 messages waiting to go to the legacy PAS, in one of two modes.

- memory: a list in the process, as the 2006 engines kept it: a restart (or a kill) loses it.
- persistent: rows in the middleware's database (store and forward), written in the transaction that
  records the broker's message as processed, so what was answered 200 is on disk; a restart finds
  every row not yet answered by the PAS and sends it again under the same control id.

Either way the queue is first in, first out, one message at a time: a cancellation never overtakes
the booking it cancels. Either tells `on_queued` (when set) the depth a message made, once the
transaction that queued it has committed: the forwarder's crash at a queue depth
(middleware/forwarder.py) is decided then, after the broker's message is on the queue and its 200
decided.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.database import Database

from middleware.models import QueuedMessage

PENDING = "pending"
ACKED, REFUSED, UNDELIVERED = "acked", "refused", "undelivered"
_RECENT = 1000   # settled messages GET /queue shows in memory mode

# Told the queue's depth (pending messages, the one just queued included) after a message is queued.
DepthListener = Callable[[int], None]


@dataclass
class Item:
    ods: str
    event: str
    ubrn: str | None
    nhs_number: str
    control_id: str
    er7: str
    bundle: dict
    created_at: datetime
    id: int = 0
    attempts: int = 0
    state: str = PENDING
    detail: str | None = None
    spine_tries: int = field(default=0, compare=False)
    slot_id: str | None = None   # a booking's slot, held while it waits

    def view(self) -> dict:
        return {"id": self.id, "ods": self.ods, "event": self.event, "ubrn": self.ubrn,
                "control_id": self.control_id, "bundle_id": self.bundle.get("id"), "state": self.state,
                "attempts": self.attempts, "detail": self.detail, "created_at": self.created_at.isoformat()}


class MemoryQueue:
    mode = "memory"

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._settled: deque[Item] = deque(maxlen=_RECENT)
        self._counts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self.on_queued: DepthListener | None = None

    async def put(self, session: AsyncSession, item: Item) -> None:
        # Queued when the inbox's transaction commits (the record of the message with it): a message
        # whose processing is rolled back (the same message racing in twice) is not queued at all.
        def queued(_session) -> None:
            item.id = next(self._ids)
            self._items.append(item)
            if self.on_queued is not None:
                self.on_queued(len(self._items))

        event.listen(session.sync_session, "after_commit", queued, once=True)

    async def head(self) -> Item | None:
        return self._items[0] if self._items else None

    async def held_slots(self, ods: str) -> set[str]:
        """The slots of the trust's bookings still waiting here: the PAS does not know them taken yet."""
        return {i.slot_id for i in self._items if i.ods == ods and i.slot_id and i.state == PENDING}

    async def attempted(self, item: Item) -> None:
        item.attempts += 1

    async def settle(self, item: Item, state: str, detail: str | None, now: datetime) -> None:
        item.state, item.detail = state, detail
        if self._items and self._items[0] is item:
            self._items.popleft()
        self._settled.append(item)
        self._counts[state] += 1

    def lose_all(self) -> list[Item]:
        """What a restart takes with it: everything queued."""
        lost, self._items = list(self._items), deque()
        return lost

    async def depth(self) -> int:
        return len(self._items)

    async def view(self) -> dict:
        return {"pending": [i.view() for i in self._items], "settled": dict(self._counts),
                "recent": [i.view() for i in self._settled]}


class PersistentQueue:
    mode = "persistent"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_queued: DepthListener | None = None

    async def put(self, session: AsyncSession, item: Item) -> None:
        # In the inbox's transaction: the message is on disk before its 200 leaves.
        session.add(QueuedMessage(ods=item.ods, event=item.event, ubrn=item.ubrn, nhs_number=item.nhs_number,
                                  control_id=item.control_id, er7=item.er7, bundle=orjson.dumps(item.bundle).decode(),
                                  slot_id=item.slot_id,
                                  state=PENDING, attempts=0, created_at=item.created_at, updated_at=item.created_at))
        listener = self.on_queued
        if listener is not None:
            # Counted in the transaction (the new row flushed first), told once it has committed.
            depth = (await session.execute(select(func.count()).select_from(QueuedMessage)
                                           .where(QueuedMessage.state == PENDING))).scalar_one()
            event.listen(session.sync_session, "after_commit", lambda _session: listener(depth), once=True)

    async def head(self) -> Item | None:
        async with self.db.session() as s:
            row = (await s.execute(select(QueuedMessage).where(QueuedMessage.state == PENDING)
                                   .order_by(QueuedMessage.id).limit(1))).scalar_one_or_none()
        return None if row is None else _item(row)

    async def held_slots(self, ods: str) -> set[str]:
        async with self.db.session() as s:
            rows = await s.execute(select(QueuedMessage.slot_id).where(
                QueuedMessage.state == PENDING, QueuedMessage.ods == ods, QueuedMessage.slot_id.is_not(None)))
            return {slot for slot in rows.scalars() if slot}

    async def attempted(self, item: Item) -> None:
        # Counted before the attempt goes out, so attempts after a restart carry on from there.
        item.attempts += 1
        async with self.db.session() as s:
            row = await s.get(QueuedMessage, item.id)
            if row is not None:
                row.attempts = item.attempts
                await s.commit()

    async def settle(self, item: Item, state: str, detail: str | None, now: datetime) -> None:
        item.state, item.detail = state, detail
        async with self.db.session() as s:
            row = await s.get(QueuedMessage, item.id)
            if row is not None:
                row.state, row.detail, row.updated_at = state, detail, now
                await s.commit()

    def lose_all(self) -> list[Item]:
        return []   # on disk: a restart loses nothing

    async def depth(self) -> int:
        async with self.db.session() as s:
            return (await s.execute(select(func.count()).select_from(QueuedMessage)
                                    .where(QueuedMessage.state == PENDING))).scalar_one()

    async def view(self) -> dict:
        async with self.db.session() as s:
            pending = (await s.execute(select(QueuedMessage).where(QueuedMessage.state == PENDING)
                                       .order_by(QueuedMessage.id).limit(1000))).scalars().all()
            counts = (await s.execute(select(QueuedMessage.state, func.count()).where(QueuedMessage.state != PENDING)
                                      .group_by(QueuedMessage.state))).all()
        return {"pending": [_item(r).view() for r in pending], "settled": {state: n for state, n in counts}}


def _item(row: QueuedMessage) -> Item:
    return Item(ods=row.ods, event=row.event, ubrn=row.ubrn, nhs_number=row.nhs_number, control_id=row.control_id,
                er7=row.er7, bundle=orjson.loads(row.bundle), created_at=row.created_at, id=row.id,
                attempts=row.attempts, state=row.state, detail=row.detail, slot_id=row.slot_id)


Queue = MemoryQueue | PersistentQueue
