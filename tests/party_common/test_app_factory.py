"""create_party_app: the garbage collector tuned while the app serves, restored when it stops; a 405's
Allow header."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

import httpx

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


async def test_a_405_allows_every_method_of_the_path_and_only_those():
    """Starlette names the methods of the first route matching the path; where two routes share one
    (GET and POST /{ods}/ServiceRequest), or a literal path also matches a templated one
    (/faults/reset beside /faults/{rule_id}), that was wrong: schemathesis's Allow check found it."""
    app = create_party_app("test", capability_statement("test", [], []))

    @app.get("/{ods}/ServiceRequest")
    async def search(ods: str):
        return {}

    @app.post("/{ods}/ServiceRequest")
    async def create(ods: str):
        return {}

    @app.post("/faults/reset")
    async def reset():
        return {}

    @app.put("/faults/{rule_id}")
    async def replace(rule_id: str):
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answers = {path: await client.request("OPTIONS", path)
                   for path in ("/Y1/ServiceRequest", "/faults/reset", "/faults/r1", "/health")}
    assert {path: (r.status_code, r.headers.get("allow")) for path, r in answers.items()} == {
        "/Y1/ServiceRequest": (405, "GET, HEAD, POST"), "/faults/reset": (405, "POST"),
        "/faults/r1": (405, "PUT"), "/health": (405, "GET, HEAD")}
