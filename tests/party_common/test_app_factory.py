"""create_party_app: the garbage collector tuned while the app serves, restored when it stops."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from party_common.app_factory import capability_statement, create_party_app


async def test_start_up_objects_are_frozen_while_serving_and_released_after():
    started = []

    @asynccontextmanager
    async def lifespan(app):
        started.append(app)
        yield

    app = create_party_app("test", capability_statement("test", [], []), lifespan=lifespan)
    thresholds = gc.get_threshold()
    async with app.router.lifespan_context(app):
        assert started == [app]
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] > thresholds[0]
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


async def test_an_app_without_a_lifespan_of_its_own_is_tuned_too():
    app = create_party_app("test", capability_statement("test", [], []))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
