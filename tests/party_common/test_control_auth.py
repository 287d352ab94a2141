"""The control token: control changes need it when it is set; reads and FHIR traffic never do."""

from __future__ import annotations

import httpx
import pytest

from booking_broker.app import create_app as broker_app
from booking_broker.settings import Settings as BrokerSettings
from party_common.control_auth import add_control_token, is_control_path
from tests.inprocess import running

TOKEN = "s3cret-token"


@pytest.fixture
async def broker(tmp_path):
    app = broker_app(BrokerSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db", control_token=TOKEN,
                                    clock="virtual", require_trace_headers=False))
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b.test") as c:
            yield c


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/faults", {"link": "broker->pas:*", "action": "drop"}),
    ("PUT", "/faults", {"seed": 1, "rules": []}),
    ("POST", "/faults/reset", {}),
    ("PUT", "/delivery", {"mode": "reliable"}),
    ("POST", "/clock/advance", {"by_s": 1}),
    ("POST", "/Appointment/131679000012/$resend", {"resourceType": "Parameters",
                                                   "parameter": [{"name": "target", "valueCode": "pas"}]}),
    ("POST", "/Appointment/131679000012/$rebook", None),
])
async def test_a_control_change_without_the_token_is_401_and_changes_nothing(broker, method, path, body):
    before = (await broker.get("/faults")).json()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = await broker.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        issue = r.json()["issue"][0]
        assert issue["code"] == "login" and issue["expression"] == ["Authorization"]
    assert (await broker.get("/faults")).json() == before
    assert (await broker.get("/clock")).json()["elapsed_s"] == 0


async def test_with_the_token_control_works_and_reads_need_none(broker):
    r = await broker.post("/faults", json={"link": "broker->pas:*", "action": "drop"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201, r.text
    assert len((await broker.get("/faults")).json()["rules"]) == 1
    assert (await broker.get("/delivery")).status_code == 200
    assert (await broker.get("/metadata")).status_code == 200


async def test_the_harness_hook_sends_the_token_to_control_paths_only(monkeypatch):
    monkeypatch.setenv("TESTBED_CONTROL_TOKEN", TOKEN)
    sent = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, request.headers.get("authorization")))
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(record), base_url="http://x",
                                 event_hooks={"request": [add_control_token]}) as c:
        await c.put("/faults", json={})
        await c.post("/clock/advance", json={})
        await c.post("/Appointment/123/$resend", json={})
        await c.post("/Appointment/123/$rebook")
        await c.post("/$process-message", json={})
        await c.get("/faults")
    assert sent == [("/faults", f"Bearer {TOKEN}"), ("/clock/advance", f"Bearer {TOKEN}"),
                    ("/Appointment/123/$resend", f"Bearer {TOKEN}"), ("/Appointment/123/$rebook", f"Bearer {TOKEN}"),
                    ("/$process-message", None), ("/faults", None)]
    assert not is_control_path("/Appointment") and is_control_path("/faults/abc")
