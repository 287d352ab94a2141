"""Route dependencies: the database (or a session for the whole request), settings and the inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.database import Database
from party_common.inbox import Inbox

from spine_mock.settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_inbox(request: Request) -> Inbox:
    return request.app.state.inbox


async def get_db(request: Request) -> Database:
    return request.app.state.db


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
InboxDep = Annotated[Inbox, Depends(get_inbox)]
# The database itself, for handlers that open their own short connection or write transaction
# rather than hold a session for the whole request.
DbDep = Annotated[Database, Depends(get_db)]
