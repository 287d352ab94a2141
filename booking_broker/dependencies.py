from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from party_common.database import Database

from .booking_flow import BookingFlow
from .directory import Directory
from .links import Courier, LinkStats


def _state(name: str):
    async def get(request: Request):
        return getattr(request.app.state, name)
    return get


DatabaseDep = Annotated[Database, Depends(_state("db"))]
CourierDep = Annotated[Courier, Depends(_state("courier"))]
DirectoryDep = Annotated[Directory, Depends(_state("directory"))]
FlowDep = Annotated[BookingFlow, Depends(_state("flow"))]
StatsDep = Annotated[LinkStats, Depends(_state("stats"))]
