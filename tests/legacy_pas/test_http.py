"""The legacy PAS's HTTP side: /health with its MLLP ports, the extracts' query checks, and the
settings that place its MLLP listeners."""

from __future__ import annotations

import pytest

from legacy_pas.settings import Settings

from .helpers import ODS, TRUST, legacy_pas

pytestmark = pytest.mark.timeout(60)


@pytest.mark.sockets
async def test_health_names_the_trusts_and_their_listening_ports(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        r = await client.get("/health")
        assert r.status_code == 200
        body = r.json()
        assert body["trusts"] == [ODS] and body["mllp"]["ports"] == {ODS: port} and port > 0


@pytest.mark.sockets
@pytest.mark.parametrize("query, where", [({"format": "xml"}, "format"), ({"trust": "R T9"}, "trust"),
                                          ({"sort": "start"}, "sort")])
async def test_a_bad_extract_query_is_a_400_naming_the_parameter(sqlite_url, query, where):
    async with legacy_pas(sqlite_url) as (_app, client, _port):
        for path in ("/extract/appointments", "/extract/referrals"):
            r = await client.get(path, params=query)
            assert r.status_code == 400, r.text
            outcome = r.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["expression"] == [where]


def test_mllp_ports_default_from_2575_and_a_named_port_wins():
    second = {**TRUST, "ods": "RT8", "sites": [{**TRUST["sites"][0], "code": "RT801"}]}
    settings = Settings(trusts=[TRUST, second], mllp_ports={"rt8": 3000})
    assert settings.mllp_port_map(["RT9", "RT8"]) == {"RT9": 2575, "RT8": 3000}
    assert Settings().mllp_port_map(["RT9", "RT8"]) == {"RT9": 2575, "RT8": 2576}


@pytest.mark.parametrize("ports, message", [({"RX1": 3000}, "RX1"), ({"RT8": 2575}, "one MLLP port"),
                                            ({"RT9": 70000}, "not a TCP port")])
def test_bad_mllp_ports_stop_the_start(ports, message):
    with pytest.raises(ValueError, match=message):
        Settings(mllp_ports=ports).mllp_port_map(["RT9", "RT8"])


def test_settings_read_the_legacy_pas_prefix(monkeypatch):
    monkeypatch.setenv("LEGACY_PAS_ACK_DELAY_MS", "250")
    monkeypatch.setenv("LEGACY_PAS_MLLP_PORTS", '{"RT9": 2600}')
    monkeypatch.setenv("LEGACY_PAS_PORT", "9005")
    settings = Settings()
    assert (settings.ack_delay_ms, settings.mllp_ports, settings.port, settings.trusts) == (
        250, {"RT9": 2600}, 9005, [])
