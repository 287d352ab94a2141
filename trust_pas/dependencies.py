"""Route dependencies: the database (or a session), and the trust a `/{ods}/...` path names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.database import Database
from party_common.outcome import not_found

from party_common.trusts.catalogue import Catalogue, Trust
from trust_pas.slot_search import SlotFinder


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


async def get_slot_finder(request: Request) -> SlotFinder:
    return request.app.state.slot_finder


async def get_trust(ods: str, request: Request) -> Trust:
    trust = request.app.state.catalogue.trust(ods)
    if trust is None:
        raise not_found(f"no trust with ODS code {ods!r} is hosted here")
    return trust


SessionDep = Annotated[AsyncSession, Depends(get_session)]
# The database itself, for hot handlers that open one short connection rather than hold a session.
DbDep = Annotated[Database, Depends(get_db)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
SlotFinderDep = Annotated[SlotFinder, Depends(get_slot_finder)]
TrustDep = Annotated[Trust, Depends(get_trust)]


def trust_base(request: Request, trust: Trust) -> str:
    """The trust's FHIR base as the caller reached it."""
    return f"{str(request.base_url).rstrip('/')}/{trust.ods}"
