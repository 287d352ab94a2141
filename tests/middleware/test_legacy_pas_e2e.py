"""Through the real legacy PAS (legacy_pas/): the middleware books, refuses, cancels, refers and
searches slots over MLLP, and the PAS's own extract shows what reached it."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest

from legacy_pas.app import create_app as create_legacy_pas
from legacy_pas.settings import Settings as LegacySettings
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from party_common.identifiers import ubrn_from_sequence
from party_common.messaging import BOOKING_CANCEL, SERVICEREQUEST_REQUEST
from party_common.referral import ReferralFacts, referral_message
from party_common.booking import practice_org, trust_org, service_dos
from party_common.identifiers import dos_token
from tests.inprocess import running
from tests.middleware.helpers import (
    ODS, SERVICE, SPINE, START, TRUSTS, FakeSpine, booking, patient, post, run_until, settings_env, slot_id,
)

from middleware.app import create_app
from middleware.settings import Settings

pytestmark = [pytest.mark.timeout(90), pytest.mark.sockets]


@asynccontextmanager
async def legacy_stack(tmp_path, **overrides):
    pas = create_legacy_pas(LegacySettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'legacy.db'}",
                                           trusts=TRUSTS, calendar_start=START, horizon_days=28,
                                           mllp_ports={ODS: 0}, log_level="WARNING"))
    spine = FakeSpine()
    async with running(pas):
        port = pas.state.mllp.ports[ODS]
        mw = create_app(Settings(**settings_env(f"sqlite+aiosqlite:///{tmp_path / 'mw.db'}", f"127.0.0.1:{port}",
                                                **overrides)),
                        transport=RoutingTransport({SPINE: httpx.ASGITransport(app=spine.app)}))
        async with running(mw):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://mw.test",
                                         headers={"Accept": FHIR_JSON}) as client, \
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=pas), base_url="http://legacy.test") as extract:
                yield mw, client, extract


async def _appointments(extract) -> list[dict]:
    r = await extract.get("/extract/appointments", params={"format": "json"})
    assert r.status_code == 200
    return r.json()


async def _settled(mw, n: int) -> None:
    queue = mw.state.forwarder.queue
    await run_until(mw, lambda: sum(queue._counts.values()) >= n)


async def test_bookings_cancels_and_refusals_reach_the_legacy_pas_book(tmp_path):
    async with legacy_stack(tmp_path) as (mw, client, extract):
        assert (await post(client, booking(1, 0))).status_code == 200
        # (While it waits in the queue its slot is held: tests/middleware/test_fhir_surface.py.)
        await _settled(mw, 1)
        # Once the PAS has it, another booking of the same slot is accepted by the engine (which does
        # not ask the PAS first) and refused by the PAS (AE), not retried.
        assert (await post(client, booking(2, 0))).status_code == 200
        await _settled(mw, 2)
        book = await _appointments(extract)
        assert [(a["ubrn"], a["slot_id"], a["status"]) for a in book] == [(ubrn_from_sequence(1), slot_id(0), "booked")]
        queue = (await client.get("/queue")).json()
        assert queue["settled"] == {"acked": 1, "refused": 1}
        journal = [e for e in (await client.get("/journal")).json()["entries"] if e["link"] == f"middleware->pas:{ODS}"]
        assert [(e["ubrn"], e["outcome"]) for e in journal] == [(ubrn_from_sequence(1), "delivered"),
                                                                 (ubrn_from_sequence(2), "rejected")]
        assert (await post(client, booking(1, 0, event=BOOKING_CANCEL, status="cancelled"))).status_code == 200
        await _settled(mw, 3)
        assert [a["status"] for a in await _appointments(extract)] == ["cancelled"]


async def test_a_referral_becomes_a_ref_i12_the_pas_records(tmp_path):
    facts = ReferralFacts(referral_id="ref-0042", nhs_number=patient(7), gp_ods="Y90001", service_id=SERVICE,
                          trust_ods=ODS, specialty="cardiology")
    message = referral_message(SERVICEREQUEST_REQUEST, facts, sender=practice_org("Y90001"), receiver=trust_org(ODS),
                               destination=dos_token(service_dos(SERVICE)))
    async with legacy_stack(tmp_path) as (mw, client, extract):
        assert (await post(client, message)).status_code == 200
        await _settled(mw, 1)
        referrals = (await extract.get("/extract/referrals", params={"format": "json"})).json()
        assert [(r["referral_id"], r["nhs_number"]) for r in referrals] == [("ref-0042", patient(7))]


async def test_slot_searches_are_answered_by_the_legacy_pas(tmp_path):
    async with legacy_stack(tmp_path) as (mw, client, extract):
        assert (await post(client, booking(1, 1))).status_code == 200
        await _settled(mw, 1)
        r = await client.get(f"/{ODS}/Slot", params={"service": SERVICE, "status": "free", "_count": "3",
                                                     "start": "ge2027-01-04T00:00:00Z"})
        assert r.status_code == 200, r.text
        ids = [e["resource"]["id"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Slot"]
        assert ids == [slot_id(0), slot_id(2), slot_id(3)]
        assert (await client.get(f"/{ODS}/Slot/{slot_id(1)}")).json()["status"] == "busy"


async def test_a_slot_search_says_how_many_from_the_pas_count_and_later_pages_do_not(tmp_path):
    async with legacy_stack(tmp_path) as (mw, client, extract):
        assert (await post(client, booking(1, 1))).status_code == 200
        await _settled(mw, 1)
        params = {"service": SERVICE, "status": "free", "_count": "100", "start": "ge2027-01-04T00:00:00Z"}
        first = (await client.get(f"/{ODS}/Slot", params=params)).json()
        every, page = [], first
        while True:
            every += [e["resource"]["id"] for e in page["entry"] if e["resource"]["resourceType"] == "Slot"]
            url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
            if url is None:
                break
            page = (await client.get(url.replace("http://mw.test", ""))).json()
            assert "total" not in page  # counted from its cursor by the PAS: not the search's total
        assert slot_id(1) not in every and len(every) > 100
        assert first["total"] == len(every)
        counted = (await client.get(f"/{ODS}/Slot", params={**params, "_count": "0"})).json()
        assert counted["total"] == len(every) and "entry" not in counted
        assert "total" not in (await client.get(f"/{ODS}/Slot", params={**params, "_total": "none"})).json()
