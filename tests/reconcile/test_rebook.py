"""Issue 15 item 6: a lost booking whose slot the trust has since given to another booking is moved by
`--repair` to the service's nearest free slot, same UBRN, and every party ends up agreeing on it.

The faults are exact (`nth`, one booking at a time), so each path is taken for certain: the resend
lost once, then refused (409); the move's booking message to the trust lost once (the retry must be
the same message, not a second move); the practice's and the spine's news of the new slot lost once
(a second round resends them).
"""

from __future__ import annotations

from rich.console import Console

from harness.reconcile import render
from harness.reconcile.records import SLOT, START, STATUS
from harness.cli.reconcile import check_misses
from tests.booking_broker import direct_driver as dd
from tests.reconcile.helpers import FHIR, by_kind, configure, ledger_facts, reconcile
from tests.stack_inprocess import inprocess_stack

BOOKINGS = 6
RULES = [
    # The 2nd booking never reaches its trust; later #8 (the first resend) and #11 (the move) are lost too.
    {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "nth": [2, 8, 11]},
    # The practice and the spine each lose the news of the move (their 8th booking message).
    {"link": "broker->gp:*", "event": "booking-request", "action": "drop", "nth": [8]},
    {"link": "broker->spine", "event": "booking-request", "action": "drop", "nth": [8]},
]


async def test_repair_moves_a_lost_booking_whose_slot_was_taken_and_every_party_agrees(tmp_path):
    async with inprocess_stack(tmp_path, population_size=120) as (urls, client, _):
        await configure(client, urls, 11, RULES)
        results = await dd.drive(client, urls, bookings=BOOKINGS, seed=11, concurrency=1)
        assert all(status == 200 for _, status, _ in results)
        lost = results[1][2]
        facts = await ledger_facts(client, urls, lost)

        # Another patient is booked into the slot the trust still shows free (the 7th booking message).
        people = await dd.patients(client, urls)
        practice, nhs = people[BOOKINGS + 3]
        slot = {"id": facts.slot_id, "start": facts.start, "end": facts.end}
        msg = dd.request_message(11, 99, practice, nhs, facts.service_id, slot, urls.broker)
        r = await client.post(f"{urls.broker}/$process-message", json=msg, headers=FHIR)
        assert r.status_code == 200, r.text
        taker = dd.ubrn_in(r.json())

        rec, doc, _ = await reconcile(client, urls, journal=False)
        assert by_kind(rec) == {"missing_at_pas": {lost}}
        assert f"its slot is now booked at the trust under UBRN {taker}" in doc["discrepancies"][0]["detail"]
        # The nearest free slot: the service's first free one from the lost booking's time.
        page = (await client.get(f"{urls.broker}/Slot", params={"service": facts.service_id, "status": "free",
                                                                "start": f"ge{facts.start}", "_count": 1})).json()
        nearest = page["entry"][0]["resource"]
        assert nearest["id"] != facts.slot_id

        rec, doc, _ = await reconcile(client, urls, journal=False, repair=True)
        repair = doc["repair"]
        assert rec.discrepancies == [] and repair["left"] == [], repair
        assert repair["rebooked"] == [{"ubrn": lost, "from": facts.slot_id, "to": nearest["id"]}]
        assert len(repair["rounds"]) == 2   # the move, then the practice's and the spine's news resent
        assert check_misses(rec.summary(), None, 0.0, []) == []
        console = Console(record=True, width=200)
        render(console, doc)
        text = console.export_text()
        assert "moved to another slot" in text and f"{lost} │ {facts.slot_id} │ {nearest['id']}" in text

        # Every party holds the same UBRN on the new slot; the taker keeps the old one.
        for party in ("broker", "spine", "gp"):
            held = rec.sources[party].get(lost)
            assert [(h[STATUS], h[SLOT]) for h in held] == [("booked", nearest["id"])], party
        assert [(h[STATUS], h[SLOT]) for h in rec.sources["pas"].get(lost)] == [("booked", nearest["id"])]
        assert rec.sources["broker"].get(lost)[0][START] == rec.sources["pas"].get(lost)[0][START]
        assert [h[SLOT] for h in rec.sources["pas"].get(taker)] == [facts.slot_id]

        # Every message of the repair went through the broker's links, journaled as repairs; the move's
        # lost booking message was sent again as the same message, not as a second move.
        journal = await dd.journal(client, urls)
        repairs = [e for e in journal if e.get("purpose") == "repair" and e["ubrn"] == lost]
        to_pas = [e for e in repairs if e["link"].startswith("broker->pas:")]
        assert [e["decision"] for e in to_pas] == ["drop", "pass", "pass", "drop", "pass"]
        assert [e["status"] for e in to_pas if e["decision"] == "pass"] == [409, 409, 200]
        assert to_pas[3]["bundle_id"] == to_pas[4]["bundle_id"] != to_pas[0]["bundle_id"]
        assert {e["link"].split(":")[0] for e in repairs} >= {"broker->gp", "broker->spine"}

        # Repair is safe to repeat: nothing left to do, nothing moves again.
        rec, doc, _ = await reconcile(client, urls, journal=False, repair=True)
        assert rec.discrepancies == [] and doc["repair"]["rebooked"] == [] and doc["repair"]["rounds"] == []
