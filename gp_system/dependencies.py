"""Route dependencies: the practice named in the path, a database session, settings, the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.database import Database
from party_common.outcome import not_found
from party_common.population import PRACTICES

from gp_system.settings import Settings

PRACTICE_NAMES: dict[str, str] = dict(PRACTICES)


async def practice_ods(ods: str) -> str:
    if ods not in PRACTICE_NAMES:
        raise not_found(f"no practice with ODS code {ods!r} is hosted here")
    return ods


def practice_base(request: Request, ods: str) -> str:
    """A practice's FHIR base as the caller reached us (a published port, a proxy), not our own idea
    of our URL: searchset links and fullUrls must work from where the caller stands."""
    return f"{str(request.base_url).rstrip('/')}/{ods}"


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.app.state.http


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


PracticeDep = Annotated[str, Depends(practice_ods)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
