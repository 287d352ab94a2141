"""GET /clock and POST /clock/advance on every party, on a virtual clock and on the system clock."""

from __future__ import annotations

import pytest

from booking_broker.app import create_app as broker_app
from booking_broker.settings import Settings as BrokerSettings
from gp_system.app import create_app as gp_app
from gp_system.settings import Settings as GpSettings
from spine_mock.app import create_app as spine_app
from spine_mock.settings import Settings as SpineSettings
from tests.inprocess import client_for
from trust_pas.app import create_app as pas_app
from trust_pas.settings import Settings as PasSettings

PARTIES = {
    "spine": (spine_app, SpineSettings),
    "pas": (pas_app, PasSettings),
    "gp": (gp_app, GpSettings),
    "broker": (broker_app, BrokerSettings),
}


def party(name: str, tmp_path, **settings):
    create_app, settings_class = PARTIES[name]
    return create_app(settings_class(database_url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
                                     population_size=50, log_level="WARNING", **settings))


def issue(response) -> dict:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


@pytest.mark.parametrize("name", PARTIES)
async def test_a_virtual_clock_moves_only_when_advanced(name, tmp_path):
    app = party(name, tmp_path, clock="virtual", clock_epoch="2006-06-05T09:00:00Z")
    async with client_for(app) as http:
        state = (await http.get("/clock")).json()
        assert state == {"mode": "virtual", "now": "2006-06-05T09:00:00Z", "elapsed_s": 0.0,
                         "next_wakeup_s": None, "sleepers": 0, "busy": False,
                         "calls": {"sent": 0, "unreached": 0, "received": 0, "answered": 0, "answers": 0}}
        r = await http.post("/clock/advance", json={"to_s": 3600})
        assert r.status_code == 200
        assert r.json()["now"] == "2006-06-05T10:00:00Z" and r.json()["elapsed_s"] == 3600
        r = await http.post("/clock/advance", json={"by_s": 1.5})
        assert r.json()["elapsed_s"] == 3601.5
        assert (await http.get("/clock")).json()["now"] == "2006-06-05T10:00:01.500000Z"
        # Time moved and nobody woken: the first half of a harness moving every party together.
        r = await http.post("/clock/advance", json={"to_s": 3700, "wake": False})
        assert r.status_code == 200 and r.json()["elapsed_s"] == 3700


@pytest.mark.parametrize("name", PARTIES)
async def test_bad_advances_are_refused_naming_the_field(name, tmp_path):
    app = party(name, tmp_path, clock="virtual")
    async with client_for(app) as http:
        await http.post("/clock/advance", json={"to_s": 100})
        cases = [
            ({"to_s": 99}, "to_s", "cannot go back"),
            ({"by_s": -1}, "by_s", "negative"),
            ({"to_s": "soon"}, "to_s", "number"),
            ({"to_s": 200, "by_s": 1}, "by_s", "exactly one"),
            ({}, "to_s", "exactly one"),
            ({"at": 5}, "at", "unknown field"),
            ({"to_s": 200, "wake": "no"}, "wake", "true or false"),
        ]
        for body, field, words in cases:
            r = await http.post("/clock/advance", json=body)
            assert r.status_code == 400, body
            got = issue(r)
            assert got["code"] == "invalid" and got["expression"] == [field] and words in got["diagnostics"], body
        r = await http.post("/clock/advance", content=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and issue(r)["code"] == "invalid"
        r = await http.post("/clock/advance", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        assert (await http.get("/clock")).json()["elapsed_s"] == 100


@pytest.mark.parametrize("name", PARTIES)
async def test_the_system_clock_cannot_be_advanced(name, tmp_path):
    app = party(name, tmp_path)
    async with client_for(app) as http:
        state = (await http.get("/clock")).json()
        assert state["mode"] == "system" and state["next_wakeup_s"] is None and state["elapsed_s"] >= 0
        r = await http.post("/clock/advance", json={"by_s": 10})
        assert r.status_code == 409
        got = issue(r)
        assert got["code"] == "business-rule" and "system clock" in got["diagnostics"]


# What a web page may send to another site without a CORS preflight: text/plain, a form, or no body.
CROSS_SITE_BODIES = [
    ({"Content-Type": "text/plain"}, b'{"by_s": 3600}'),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"by_s=3600"),
    ({"Content-Type": "multipart/form-data; boundary=x"}, b'--x\r\nContent-Disposition: form-data; name="by_s"\r\n\r\n3600\r\n--x--\r\n'),
    ({}, b""),
]


@pytest.mark.parametrize("name", PARTIES)
async def test_a_request_a_web_page_could_send_cross_site_cannot_move_the_clock(name, tmp_path):
    app = party(name, tmp_path, clock="virtual")
    async with client_for(app) as http:
        for headers, body in CROSS_SITE_BODIES:
            r = await http.post("/clock/advance", content=body, headers=headers)
            assert r.status_code == 415, (headers, r.text)
            assert issue(r)["code"] == "not-supported"
        assert (await http.get("/clock")).json()["elapsed_s"] == 0
        r = await http.post("/clock/advance", content=b'{"by_s": 1}', headers={"Content-Type": "application/json"})
        assert r.status_code == 200 and r.json()["elapsed_s"] == 1
