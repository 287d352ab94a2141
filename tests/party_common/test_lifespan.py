"""party_resources: database and client up for the block, both closed however it ends."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import inspect

from party_common.lifespan import party_resources
from party_common.settings import PartySettings

from .conftest import Base


async def test_resources_are_started_shared_and_closed(sqlite_url):
    app = FastAPI()
    settings = PartySettings(database_url=sqlite_url)
    with pytest.raises(RuntimeError):
        async with party_resources(app, settings, Base) as (db, http):
            assert app.state.db is db and app.state.http is http and app.state.settings is settings
            async with db.engine.connect() as conn:
                tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert {"notes", "processed_messages"} <= set(tables)
            raise RuntimeError("the app failed while serving")
    assert http.is_closed
    assert db.engine.pool.checkedout() == 0
