"""BROKER_TRUST_ROOTS: the broker discovers trusts at every extra root as it does at BROKER_PAS_URL
(a middleware standing for legacy trusts lists them the same way), and a root it cannot read is a 503
naming it, not a directory silently short of its trusts."""

from __future__ import annotations

import httpx
import pytest

from booking_broker.app import create_app as create_broker
from booking_broker.settings import Settings as BrokerSettings
from party_common.http_client import RoutingTransport
from party_common.outcome import FhirError
from party_common.trust_catalogue import DEFAULT_TRUSTS
from tests.inprocess import running
from trust_pas.app import create_app as create_pas
from trust_pas.settings import Settings as PasSettings

pytestmark = pytest.mark.timeout(60)


def _pas(tmp_path, name: str, trusts: list[dict]):
    return create_pas(PasSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / name}.db", trusts=trusts,
                                  log_level="WARNING"))


def _broker(tmp_path, routes, **settings):
    return create_broker(BrokerSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
                                        pas_url="http://pas.test", log_level="WARNING", **settings), transport=routes)


async def test_trusts_are_discovered_at_the_pas_and_at_every_extra_root(tmp_path):
    first, second = _pas(tmp_path, "first", DEFAULT_TRUSTS[:1]), _pas(tmp_path, "second", DEFAULT_TRUSTS[1:2])
    routes = RoutingTransport({"http://pas.test": httpx.ASGITransport(app=first),
                               "http://root2.test": httpx.ASGITransport(app=second)})
    broker = _broker(tmp_path, routes, trust_roots=["http://root2.test/"])
    async with running(first, second, broker):
        directory = broker.state.directory
        await directory.ensure_loaded()
        one, two = DEFAULT_TRUSTS[0]["ods"], DEFAULT_TRUSTS[1]["ods"]
        assert directory.trusts == {one: f"http://pas.test/{one}", two: f"http://root2.test/{two}"}
        assert {s.trust_ods for s in directory.services.values()} == {one, two}


async def test_an_extra_root_is_read_even_when_trusts_are_named_one_by_one(tmp_path):
    second = _pas(tmp_path, "second", DEFAULT_TRUSTS[1:2])
    routes = RoutingTransport({"http://root2.test": httpx.ASGITransport(app=second)})
    two = DEFAULT_TRUSTS[1]["ods"]
    broker = _broker(tmp_path, routes, trust_roots=["http://root2.test"],
                     pas_endpoints={"RX9": "http://elsewhere.test/fhir"})
    async with running(second, broker):
        directory = broker.state.directory
        await directory.ensure_loaded()
        assert directory.trusts == {"RX9": "http://elsewhere.test/fhir", two: f"http://root2.test/{two}"}


async def test_a_root_that_cannot_be_read_is_a_503_naming_it(tmp_path):
    first = _pas(tmp_path, "first", DEFAULT_TRUSTS[:1])
    broker = _broker(tmp_path, RoutingTransport({"http://pas.test": httpx.ASGITransport(app=first)}),
                     trust_roots=["http://gone.test"])
    async with running(first, broker):
        with pytest.raises(FhirError) as raised:
            await broker.state.directory.ensure_loaded()
        assert raised.value.status == 503 and "http://gone.test" in str(raised.value.outcome())
