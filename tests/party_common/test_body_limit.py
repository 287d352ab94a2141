"""<P>_MAX_BODY_BYTES: a body larger than the party takes is a 413 OperationOutcome, refused unread."""

from __future__ import annotations

import orjson
import pytest

from booking_broker.app import create_app as broker_app
from booking_broker.settings import Settings as BrokerSettings
from gp_system.app import create_app as gp_app
from gp_system.settings import Settings as GpSettings
from party_common.body_limit import DEFAULT_MAX_BODY_BYTES
from spine_mock.app import create_app as spine_app
from spine_mock.settings import Settings as SpineSettings
from tests.inprocess import client_for
from trust_pas.app import create_app as pas_app
from trust_pas.settings import Settings as PasSettings

# With the trace headers BaRS asks for, which the broker (the proxy) requires before anything else.
REQUEST_ID = "3b1c4f0e-8a7d-4c55-9e0a-1f2b3c4d5e6f"
FHIR = {"Content-Type": "application/fhir+json", "X-Request-ID": REQUEST_ID,
        "X-Correlation-ID": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"}
PARTIES = {
    "spine": (spine_app, SpineSettings, "/$process-message"),
    "pas": (pas_app, PasSettings, "/RT1/$process-message"),
    "gp": (gp_app, GpSettings, "/Y90001/$process-message"),
    "broker": (broker_app, BrokerSettings, "/$process-message"),
}


def party(name: str, tmp_path, **settings):
    create_app, settings_class, _ = PARTIES[name]
    return create_app(settings_class(database_url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
                                     population_size=50, log_level="WARNING", **settings))


def _too_large(r) -> bool:
    body = r.json()
    return (r.status_code == 413 and body["resourceType"] == "OperationOutcome"
            and body["issue"][0]["code"] == "too-costly")


def _padded(size: int) -> bytes:
    """A message Bundle of exactly `size` bytes (padded in an id nobody reads)."""
    shell = orjson.dumps({"resourceType": "Bundle", "type": "message", "id": ""})
    return shell.replace(b'"id":""', b'"id":"' + b"a" * (size - len(shell)) + b'"')


@pytest.mark.parametrize("name", PARTIES)
async def test_a_body_over_the_limit_is_a_413_at_every_party(name, tmp_path):
    async with client_for(party(name, tmp_path, max_body_bytes=2000)) as http:
        path = PARTIES[name][2]
        r = await http.post(path, content=_padded(2001), headers=FHIR)
        assert _too_large(r), r.text
        assert "2000 bytes" in r.json()["issue"][0]["diagnostics"]
        assert r.headers["x-request-id"] == REQUEST_ID
        # At the limit the body is read and judged on what it says, not on its size.
        r = await http.post(path, content=_padded(2000), headers=FHIR)
        assert r.status_code in (400, 422) and r.json()["resourceType"] == "OperationOutcome", r.text


@pytest.mark.parametrize("name", ["spine", "broker"])
async def test_a_chunked_body_is_refused_once_it_passes_the_limit_without_reading_the_rest(name, tmp_path):
    pulled = []

    async def chunks():
        for i in range(100):
            pulled.append(i)
            yield b" " * 1000

    async with client_for(party(name, tmp_path, max_body_bytes=5000)) as http:
        r = await http.post(PARTIES[name][2], content=chunks(), headers=FHIR)
        assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
        assert _too_large(r), r.text
    assert len(pulled) < 10


@pytest.mark.parametrize("name", ["pas", "gp"])
async def test_the_default_limit_is_5_mb(name, tmp_path):
    assert DEFAULT_MAX_BODY_BYTES == 5 * 1024 * 1024
    async with client_for(party(name, tmp_path)) as http:
        r = await http.post(PARTIES[name][2], content=b" " * (DEFAULT_MAX_BODY_BYTES + 1), headers=FHIR)
        assert _too_large(r), r.text
        r = await http.post(PARTIES[name][2], content=b" " * DEFAULT_MAX_BODY_BYTES, headers=FHIR)
        assert r.status_code == 400, r.text  # read, and found not to be JSON


async def test_a_control_endpoint_has_the_same_limit(tmp_path):
    async with client_for(party("broker", tmp_path, max_body_bytes=100)) as http:
        r = await http.put("/faults", content=b" " * 101, headers={"Content-Type": "application/json"})
        assert _too_large(r), r.text


def test_each_party_reads_its_limit_from_its_own_prefix(monkeypatch):
    monkeypatch.setenv("SPINE_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("BROKER_MAX_BODY_BYTES", "99")
    assert SpineSettings().max_body_bytes == 1234
    assert BrokerSettings().max_body_bytes == 99
    assert PasSettings().max_body_bytes == DEFAULT_MAX_BODY_BYTES
    monkeypatch.setenv("GP_MAX_BODY_BYTES", "0")
    with pytest.raises(ValueError):
        GpSettings()
