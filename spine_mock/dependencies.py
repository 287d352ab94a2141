"""Route dependencies: the request's database session and the party's settings and inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.inbox import Inbox

from .settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_inbox(request: Request) -> Inbox:
    return request.app.state.inbox


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
InboxDep = Annotated[Inbox, Depends(get_inbox)]
