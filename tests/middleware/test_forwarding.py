"""The middleware forwards the broker's BaRS messages to a legacy v2 PAS (docs/legacy-pas.md): answered
200 once queued, sent as SIU^S12/S15 after a spine look-up, settled by the PAS's ACK; journaled on its
links; its restart, its two queue modes, ACK timeouts and refusals."""

from __future__ import annotations

import pytest

from party_common.identifiers import ubrn_from_sequence
from party_common.messaging import BOOKING_CANCEL
from tests.middleware.helpers import ODS, booking as _booking, post, run_until, slot_id

pytestmark = pytest.mark.timeout(60)


async def _journal(client) -> list[dict]:
    r = await client.get("/journal")
    assert r.status_code == 200
    return r.json()["entries"]


async def test_a_booking_is_answered_when_queued_then_sent_as_siu_s12_and_acked(middleware, pas, spine):
    async with middleware(clock="virtual") as (app, client):
        r = await post(client, _booking(1, 0))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["entry"][0]["resource"]["response"]["code"] == "ok"
        await run_until(app, lambda: len(pas.booked) == 1)
        assert pas.booked == {slot_id(0): ubrn_from_sequence(1)}
        assert [kind for kind, _ in pas.received] == ["SIU^S12^SIU_S12"]
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        entries = await _journal(client)
        assert [(e["link"], e["event"], e["outcome"]) for e in entries] == [
            ("middleware->spine", "patient-read", "delivered"),
            (f"middleware->pas:{ODS}", "booking-request", "delivered"),
        ]
        assert all(e["ubrn"] == ubrn_from_sequence(1) for e in entries)
        assert entries[1]["bundle_id"] == _booking(1, 0)["id"]
        queue = (await client.get("/queue")).json()
        assert queue["mode"] == "memory" and queue["depth"] == 0 and queue["settled"] == {"acked": 1}
        assert spine.reads == 1


async def test_a_cancel_follows_its_booking_as_siu_s15(middleware, pas):
    async with middleware(clock="virtual") as (app, client):
        assert (await post(client, _booking(1, 0))).status_code == 200
        assert (await post(client, _booking(1, 0, event=BOOKING_CANCEL, status="cancelled"))).status_code == 200
        await run_until(app, lambda: len(pas.received) == 2 and not pas.booked)
        assert [kind for kind, _ in pas.received] == ["SIU^S12^SIU_S12", "SIU^S15^SIU_S12"]


async def test_an_invalid_booking_is_refused_at_once_naming_the_element(middleware, pas):
    async with middleware(clock="virtual") as (app, client):
        bad = _booking(1, 0)
        appointment = bad["entry"][1]["resource"]
        appointment["identifier"] = []   # no UBRN: the legacy PAS could not name it
        r = await post(client, bad)
        assert r.status_code == 422
        assert "UBRN" in r.text and r.json()["issue"][0]["expression"]
        assert (await client.get("/queue")).json()["depth"] == 0


async def test_a_repeat_of_a_message_is_answered_from_store_and_queued_once(middleware, pas):
    async with middleware(clock="virtual") as (app, client):
        first = await post(client, _booking(1, 0))
        again = await post(client, _booking(1, 0))
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        assert len(pas.bookings()) == 1


async def test_ae_refuses_the_booking_at_the_trust_and_it_is_never_sent_again(middleware, pas):
    pas.booked[slot_id(0)] = "000000000000"   # the slot is another's at the PAS
    async with middleware(clock="virtual") as (app, client):
        assert (await post(client, _booking(1, 0))).status_code == 200
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        queue = (await client.get("/queue")).json()
        assert queue["settled"] == {"refused": 1}
        assert queue["recent"][0]["detail"].startswith("AE")
        assert len(pas.bookings()) == 1
        entries = await _journal(client)
        assert [(e["event"], e["outcome"]) for e in entries if e["link"].startswith("middleware->pas")] == \
            [("booking-request", "rejected")]


async def test_no_ack_in_time_sends_again_under_the_same_control_id(middleware, pas):
    pas.silent = 1   # the first SIU gets no answer at all
    async with middleware(clock="virtual", ack_timeout_s=30) as (app, client):
        assert (await post(client, _booking(1, 0))).status_code == 200
        # The wait for the ACK is on the clock: moved past it once the PAS has read the message.
        await run_until(app, lambda: len(pas.bookings()) == 2)
        await run_until(app, lambda: app.state.forwarder.queue._settled, advance=False)
        assert len(pas.booked) == 1
        controls = [c for _, c in pas.bookings()]
        assert len(controls) == 2 and controls[0] == controls[1]
        entries = [e for e in await _journal(client) if e["link"].startswith("middleware->pas")]
        assert [(e["outcome"], e["attempt"]) for e in entries] == [("timeout", 1), ("delivered", 2)]


async def test_resends_run_out_and_the_message_is_undelivered(middleware, pas):
    pas.silent = 10
    async with middleware(clock="virtual", ack_timeout_s=30, resends=2) as (app, client):
        assert (await post(client, _booking(1, 0))).status_code == 200
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        assert (await client.get("/queue")).json()["settled"] == {"undelivered": 1}
        assert len(pas.bookings()) == 3 and len({c for _, c in pas.bookings()}) == 1


async def test_faults_on_the_pas_link_are_applied_and_journaled(middleware, pas):
    async with middleware(clock="virtual", ack_timeout_s=30) as (app, client):
        r = await client.post("/faults", json={"id": "d1", "link": "middleware->pas:*", "event": "booking-request",
                                               "action": "drop", "nth": [1]})
        assert r.status_code == 201, r.text
        assert (await post(client, _booking(1, 0))).status_code == 200
        await run_until(app, lambda: app.state.forwarder.queue._settled)
        entries = [e for e in await _journal(client) if e["link"] == f"middleware->pas:{ODS}"]
        assert [(e["decision"], e["rule_id"], e["outcome"]) for e in entries] == [
            ("drop", "d1", "timeout"), ("pass", None, "delivered")]
        # The dropped attempt never reached the PAS; the resend did.
        assert len(pas.bookings()) == 1
        assert (await client.post("/faults/reset", json={})).status_code == 200
        assert (await client.get("/faults")).json()["rules"] == []
