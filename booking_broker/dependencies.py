from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from party_common.database import Database

from .booking_flow import BookingFlow
from .courier import Courier, LinkStats
from .directory import Directory
from .faults.engine import FaultEngine
from .journal import Journal
from .metrics import BrokerMetrics
from .outbox import Outbox


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
