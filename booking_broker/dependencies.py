from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from party_common.database import Database

from booking_broker.booking_flow import BookingFlow
from party_common.links.courier import Courier, LinkStats
from booking_broker.directory import Directory
from party_common.links.faults.engine import FaultEngine
from party_common.links.journal import Journal
from booking_broker.metrics import BrokerMetrics
from booking_broker.outbox import Outbox


def _state(name: str):
    async def get(request: Request):
        return getattr(request.app.state, name)
    return get


DatabaseDep = Annotated[Database, Depends(_state("db"))]
CourierDep = Annotated[Courier, Depends(_state("courier"))]
DirectoryDep = Annotated[Directory, Depends(_state("directory"))]
FlowDep = Annotated[BookingFlow, Depends(_state("flow"))]
StatsDep = Annotated[LinkStats, Depends(_state("stats"))]
EngineDep = Annotated[FaultEngine, Depends(_state("engine"))]
JournalDep = Annotated[Journal, Depends(_state("journal"))]
MetricsDep = Annotated[BrokerMetrics, Depends(_state("metrics"))]
OutboxDep = Annotated[Outbox, Depends(_state("outbox"))]
