"""Fixtures of the middleware's tests: a fake v2 PAS on a loopback port and the middleware in-process."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest

from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from tests.inprocess import running
from tests.middleware.fake_pas import FakePas
from tests.middleware.helpers import SPINE, FakeSpine, settings_env, trust

from middleware.app import create_app
from middleware.settings import Settings


@pytest.fixture
async def pas():
    fake = FakePas(trust())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def spine():
    return FakeSpine()


@pytest.fixture
def middleware(tmp_path, pas, spine):
    """`async with middleware(**settings) as (app, client)`: the middleware over the fake PAS and spine."""

    @asynccontextmanager
    async def start(db_name: str = "mw.db", **overrides):
        settings = Settings(**settings_env(f"sqlite+aiosqlite:///{tmp_path / db_name}", pas.address, **overrides))
        app = create_app(settings, transport=RoutingTransport({SPINE: httpx.ASGITransport(app=spine.app)}))
        pas.clock = spine.clock = app.state.clock
        async with running(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mw.test",
                                         headers={"Accept": FHIR_JSON}) as client:
                yield app, client

    return start
