"""What every party's lifespan starts and stops: its database and its outbound HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import DeclarativeBase

from party_common.database import Database
from party_common.http_client import party_client
from party_common.schema_upgrade import add_missing_columns
from party_common.settings import PartySettings


@asynccontextmanager
async def party_resources(app: FastAPI, settings: PartySettings, base: type[DeclarativeBase],
                          transport: httpx.AsyncBaseTransport | None = None
                          ) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    """Starts the database (schema included) and the client, sets `app.state.settings`, `.db` and
    `.http`, and closes both when the block ends, however it ends.

    The client is made even by a party that calls no one: it keeps the transport seam every party
    shares, so tests route its calls to in-process apps the same way.
    """
    db = Database(settings.database_url, base)
    # The party's clock (create_party_app sets it), so time waiting on others is not its work.
    http = party_client(transport, settings.http_timeout, getattr(app.state, "clock", None))
    try:
        await db.start()
        await add_missing_columns(db)
        app.state.settings = settings
        app.state.db = db
        app.state.http = http
        yield db, http
    finally:
        await http.aclose()
        await db.dispose()
