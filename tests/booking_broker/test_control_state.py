"""The fault plan and delivery mode survive a restart of the broker, a kill -9 included."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from booking_broker.app import create_app
from booking_broker.settings import Settings
from tests.inprocess import running

RULE = {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.25}


def _settings(path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", require_trace_headers=False,
                    delivery="fire-and-forget")


async def _client_of(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b.test")


async def test_rules_seed_and_delivery_mode_come_back_after_a_restart(tmp_path):
    db = tmp_path / "broker.db"
    app = create_app(_settings(db))
    async with running(app):
        async with await _client_of(app) as c:
            assert (await c.put("/faults", json={"seed": 11, "rules": [RULE]})).status_code == 200
            assert (await c.post("/faults", json={**RULE, "id": "extra", "probability": 0.5})).status_code == 201
            assert (await c.put("/delivery", json={"mode": "reliable"})).status_code == 200
            before = (await c.get("/faults")).json()
    again = create_app(_settings(db))
    async with running(again):
        async with await _client_of(again) as c:
            assert (await c.get("/faults")).json() == before
            assert (await c.get("/delivery")).json() == {"mode": "reliable"}
            # A reset is kept too: the next start has no rules, not the start-up settings' ones.
            assert (await c.post("/faults/reset", json={"seed": 2})).status_code == 200
    third = create_app(_settings(db))
    async with running(third):
        async with await _client_of(third) as c:
            assert (await c.get("/faults")).json() == {"seed": 2, "rules": []}


async def test_a_fresh_database_starts_from_the_settings(tmp_path):
    settings = _settings(tmp_path / "b.db").model_copy(update={"faults": [RULE], "fault_seed": 5})
    app = create_app(settings)
    async with running(app):
        async with await _client_of(app) as c:
            plan = (await c.get("/faults")).json()
            assert plan["seed"] == 5 and [r["link"] for r in plan["rules"]] == [RULE["link"]]
            assert (await c.get("/delivery")).json() == {"mode": "fire-and-forget"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db, port: int) -> subprocess.Popen:
    env = {**os.environ, "BROKER_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "BROKER_PORT": str(port),
           "BROKER_REQUIRE_TRACE_HEADERS": "false", "BROKER_DELIVERY": "fire-and-forget"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "booking_broker.app:create_app",
                             "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the broker did not start")


@pytest.mark.sockets
def test_after_kill_9_the_broker_comes_back_with_its_plan_and_mode(tmp_path):
    db, port = tmp_path / "broker.db", _free_port()
    proc = _start(db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.put(f"{base}/faults", json={"seed": 9, "rules": [RULE]}, timeout=10).status_code == 200
        assert httpx.put(f"{base}/delivery", json={"mode": "reliable"}, timeout=10).status_code == 200
        plan = httpx.get(f"{base}/faults", timeout=10).json()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    proc = _start(db, port)
    try:
        assert httpx.get(f"{base}/faults", timeout=10).json() == plan
        assert httpx.get(f"{base}/delivery", timeout=10).json() == {"mode": "reliable"}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
