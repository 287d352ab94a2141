"""The fault plan and delivery mode set over HTTP, kept in the broker's database.

A broker killed and restarted mid-run comes back with the rules and delivery mode it had, instead of
the start-up settings: a reliable run would otherwise go on silently as fire-and-forget. What is kept
is what an operator set (rules with their ids, the seed, the mode); counters of `nth`/`every`
rules and a loaded replay script start over, as after `POST /faults/reset` with the rules kept.
Start-up settings (BROKER_FAULTS, BROKER_DELIVERY) apply only to a database that holds no state.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Request
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from party_common.database import Database
from party_common.fault_rules import FaultRule

from party_common.links.faults.engine import FaultEngine
from booking_broker.models import Base
from booking_broker.settings import DeliveryModeName

FAULTS, DELIVERY = "faults", "delivery"


class ControlRow(Base):
    __tablename__ = "control_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ControlState:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _put(self, key: str, value) -> None:
        async with self.db.session() as s:
            await s.merge(ControlRow(key=key, value=orjson.dumps(value).decode()))
            await s.commit()

    async def _get(self, key: str):
        async with self.db.session() as s:
            row = await s.get(ControlRow, key)
            return None if row is None else orjson.loads(row.value)

    async def save_faults(self, engine: FaultEngine) -> None:
        plan = engine.as_json()
        await self._put(FAULTS, {"seed": plan["seed"], "rules": plan["rules"]})

    async def save_delivery(self, mode: str) -> None:
        await self._put(DELIVERY, mode)

    async def restore(self, engine: FaultEngine) -> DeliveryModeName | None:
        """Puts the stored plan on `engine`; returns the stored delivery mode (None if never set)."""
        plan = await self._get(FAULTS)
        if plan is not None:
            engine.configure(plan["seed"], [FaultRule.model_validate(r) for r in plan["rules"]])
        return await self._get(DELIVERY)


def _control(request: Request) -> ControlState:
    return request.app.state.control


ControlDep = Annotated[ControlState, Depends(_control)]
