"""Towards the broker the middleware is the trust's FHIR endpoint: the root lists its trusts, each trust
has its CapabilityStatement, HealthcareServices and Slots (searched at the legacy PAS with SQM^S25);
and the broker discovers the trusts at the middleware's root (BROKER_TRUST_ROOTS) and searches its
slots with the parameters it sends any trust."""

from __future__ import annotations

import httpx
import pytest

from booking_broker.app import create_app as create_broker
from booking_broker.settings import Settings as BrokerSettings
from contracts.capability_rules import structure_errors, violations
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from party_common.identifiers import ODS_SYSTEM
from tests.inprocess import TRACE_HOOKS, running
from tests.middleware.helpers import ODS, SERVICE, SPINE, booking, post, run_until, settings_env, slot_id
from trust_pas.app import create_app as create_pas
from trust_pas.settings import Settings as PasSettings

from middleware.app import create_app
from middleware.settings import Settings

pytestmark = pytest.mark.timeout(60)


def _slots(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Slot"]


async def test_the_root_lists_the_trusts_and_each_trust_states_its_capabilities(middleware):
    async with middleware() as (app, client):
        orgs = (await client.get("/Organization")).json()
        assert [e["resource"]["id"] for e in orgs["entry"]] == [ODS]
        statement = (await client.get(f"/{ODS}/metadata")).json()
        assert violations(statement) == [] and structure_errors(statement) == []
        root = (await client.get("/metadata")).json()
        assert violations(root) == [] and structure_errors(root) == []
        services = (await client.get(f"/{ODS}/HealthcareService")).json()
        assert [e["resource"]["id"] for e in services["entry"]] == [SERVICE]
        assert (await client.get(f"/{ODS}/Schedule/{SERVICE}")).json()["resourceType"] == "Schedule"
        assert (await client.get("/NOPE/HealthcareService")).status_code == 404


async def test_a_slot_search_is_an_sqm_and_its_sqr_comes_back_as_slots_paged_by_next(middleware, pas):
    pas.booked[slot_id(1)] = "000000000000"
    async with middleware() as (app, client):
        r = await client.get(f"/{ODS}/Slot", params=[("service", SERVICE), ("status", "free"),
                                                      ("start", "ge2027-01-04T00:00:00Z"),
                                                      ("_include", "Slot:schedule"), ("_count", "3")])
        assert r.status_code == 200, r.text
        page = r.json()
        assert [s["id"] for s in _slots(page)] == [slot_id(0), slot_id(2), slot_id(3)]
        assert all(s["status"] == "free" for s in _slots(page))
        assert [e["resource"]["id"] for e in page["entry"] if e["search"]["mode"] == "include"] == [SERVICE]
        assert [kind for kind, _ in pas.received] == ["SQM^S25^SQM_S25"]
        following = next(link["url"] for link in page["link"] if link["relation"] == "next")
        second = (await client.get(following)).json()
        assert [s["id"] for s in _slots(second)] == [slot_id(4), slot_id(5), slot_id(6)]
        # A read asks the PAS too: the booked slot is busy.
        assert (await client.get(f"/{ODS}/Slot/{slot_id(1)}")).json()["status"] == "busy"
        assert (await client.get(f"/{ODS}/Slot/{slot_id(0)}")).json()["status"] == "free"


async def test_a_slot_search_the_pas_cannot_answer_is_a_503(middleware, pas):
    await pas.stop()
    async with middleware() as (app, client):
        r = await client.get(f"/{ODS}/Slot", params={"service": SERVICE, "status": "free"})
        assert r.status_code == 503 and r.headers["Retry-After"]
        entries = (await client.get("/journal")).json()["entries"]
        assert [(e["link"], e["event"], e["outcome"]) for e in entries] == [
            (f"middleware->pas:{ODS}", "slot-search", "unreachable")]


async def test_the_broker_discovers_the_trusts_at_every_root_and_searches_the_legacy_trust(tmp_path, pas):
    routes = RoutingTransport()
    mw = create_app(Settings(**settings_env(f"sqlite+aiosqlite:///{tmp_path / 'mw.db'}", pas.address,
                                            public_url="http://mw.test")), transport=routes)
    fhir_pas = create_pas(PasSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'pas.db'}", log_level="WARNING"))
    broker = create_broker(BrokerSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
                                          pas_url="http://pas.test", trust_roots=["http://mw.test"],
                                          spine_url=SPINE, log_level="WARNING"), transport=routes)
    routes.mount("http://mw.test", httpx.ASGITransport(app=mw))
    routes.mount("http://pas.test", httpx.ASGITransport(app=fhir_pas))
    async with running(mw, fhir_pas, broker):
        directory = broker.state.directory
        await directory.ensure_loaded()
        assert directory.trusts[ODS] == f"http://mw.test/{ODS}"
        assert directory.trusts["RT1"] == "http://pas.test/RT1"
        assert directory.services[SERVICE].trust_ods == ODS
        assert ODS_SYSTEM in str(directory.organizations[ODS][0]["identifier"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broker), base_url="http://broker.test",
                                     headers={"Accept": FHIR_JSON}, event_hooks=TRACE_HOOKS) as client:
            r = await client.get("/Slot", params={"service": SERVICE, "status": "free", "_count": "2",
                                                  "_include": "Slot:schedule"})
            assert r.status_code == 200, r.text
            assert [s["id"] for s in _slots(r.json())] == [slot_id(0), slot_id(1)]
    assert any(kind.startswith("SQM") for kind, _ in pas.received)


@pytest.mark.parametrize("queue", ["memory", "persistent"])
async def test_a_queued_bookings_slot_is_held_until_the_pas_has_it(middleware, pas, spine, queue):
    # Answered 200 before the PAS has it, a booking must still take its slot at once: not offered to
    # the next search, and a second booking of it refused here (409), not accepted and then refused
    # at the trust.
    spine.down = True   # the booking waits in the queue for its look-up
    async with middleware(clock="virtual", queue=queue, spine_retry_s=5) as (app, client):
        params = [("service", SERVICE), ("status", "free"), ("start", "ge2027-01-04T00:00:00Z"), ("_count", "2")]
        before = (await client.get(f"/{ODS}/Slot", params=params)).json()
        assert [s["id"] for s in _slots(before)][:1] == [slot_id(0)]
        assert (await post(client, booking(1, 0))).status_code == 200
        after = (await client.get(f"/{ODS}/Slot", params=params)).json()
        assert [s["id"] for s in _slots(after)] == [slot_id(1), slot_id(2)]
        second = await post(client, booking(2, 0))
        assert second.status_code == 409, second.text
        assert second.json()["issue"][0]["code"] == "conflict"
        spine.down = False
        await run_until(app, lambda: list(pas.booked) == [slot_id(0)])
        # At the PAS now: free of the queue's hold, and busy there.
        final = (await client.get(f"/{ODS}/Slot", params=params)).json()
        assert [s["id"] for s in _slots(final)] == [slot_id(1), slot_id(2)]
        assert (await app.state.forwarder.queue.held_slots(ODS)) == set()
