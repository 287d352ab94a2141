"""Every kind of discrepancy, produced on the in-process stack and found; and what repair can mend."""

from __future__ import annotations

from collections import Counter

from tests.booking_broker import direct_driver as dd
from tests.reconcile.helpers import (book_at_trust, by_kind, cancel, configure, faulted, free_slot, ledger_facts,
                                     reconcile)
from tests.stack_inprocess import inprocess_stack

RULES = [
    {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "nth": [2, 5]},
    {"link": "broker->pas:*", "event": "booking-request", "action": "duplicate", "nth": [7]},
    {"link": "broker->spine", "event": "booking-request", "action": "drop", "nth": [3]},
    {"link": "broker->gp:*", "event": "booking-request", "action": "corrupt", "nth": [4]},
    {"link": "broker->pas:*", "event": "booking-cancel", "action": "drop"},
    {"link": "broker->gp:*", "event": "booking-cancel", "action": "timeout"},
]


async def test_each_kind_is_produced_and_found_and_repair_mends_what_a_resend_can(tmp_path):
    async with inprocess_stack(tmp_path, population_size=120, pas_overrides={"dedupe": False}) as (urls, client, _):
        await configure(client, urls, 3, RULES)
        results = await dd.drive(client, urls, bookings=12, seed=3, concurrency=1)
        assert all(status == 200 for _, status, _ in results)
        ubrns = [u for _, _, u in results]
        journal = await dd.journal(client, urls)
        dropped = sorted(faulted(journal, "broker->pas:", "drop"))
        (duplicated,) = faulted(journal, "broker->pas:", "duplicate")
        (unindexed,) = faulted(journal, "broker->spine", "drop")
        (untold,) = faulted(journal, "broker->gp:", "corrupt")
        assert len(dropped) == 2

        # A cancellation whose messages to the trust and the practice are lost.
        cancelled = next(u for u in ubrns if u not in {*dropped, duplicated, unindexed, untold})
        assert await cancel(client, urls, cancelled) == 200

        # A booking the broker never made, sent straight to a trust.
        facts = await ledger_facts(client, urls, ubrns[0])
        used = {(await ledger_facts(client, urls, u)).slot_id for u in ubrns}
        stranger = "999000000017"
        slot = await free_slot(client, urls, facts.service_id, used)
        assert await book_at_trust(client, urls, ubrn=stranger, trust=facts.trust_ods, service=facts.service_id,
                                   slot=slot, nhs=facts.nhs_number) == 200
        # The same UBRN as a booking the trust lost, on another slot.
        moved = dropped[0]
        lost = await ledger_facts(client, urls, moved)
        other = await free_slot(client, urls, lost.service_id, used | {slot["id"]})
        assert await book_at_trust(client, urls, ubrn=moved, trust=lost.trust_ods, service=lost.service_id,
                                   slot=other, nhs=lost.nhs_number) == 200

        rec, doc, journal = await reconcile(client, urls, dedupe=False)
        assert by_kind(rec) == {
            "missing_at_pas": {dropped[1]},
            "slot_mismatch": {moved},
            "duplicate_at_pas": {duplicated},
            "missing_at_spine": {unindexed},
            "missing_at_gp": {untold},
            "status_mismatch": {cancelled},
            "missing_at_broker": {stranger},
        }
        assert Counter((d.kind, d.party) for d in rec.discrepancies)[("status_mismatch", "pas")] == 1
        assert {d.party for d in rec.discrepancies if d.ubrn == cancelled} == {"pas", "gp"}
        views = {d["kind"]: d["views"] for d in doc["discrepancies"]}
        assert [v["slot"] for v in views["slot_mismatch"]["pas"]] == [other["id"]]
        assert views["slot_mismatch"]["broker"]["slot"] == lost.slot_id
        assert len(views["duplicate_at_pas"]["pas"]) == 2
        assert views["missing_at_broker"]["broker"] is None and views["missing_at_broker"]["pas"][0]["status"] == "booked"
        assert views["status_mismatch"]["broker"]["status"] == "cancelled"
        assert rec.checked == 13 and rec.disagreeing == 7

        # Against the journal: every injected fault found; what was sent around the broker is not a fault.
        score = doc["score"]
        assert score["spurious"] == sorted([[moved, "pas", "slot_mismatch"], [stranger, "broker", "missing_at_broker"]])
        assert score["missed"] == [[moved, "pas", "loss"]]   # the loss was overwritten by the stranger's booking

        # Repair, with the cancel-dropping rules still in force: what a resend can mend is mended.
        rec, doc, _ = await reconcile(client, urls, journal=False, repair=True)
        left = {(item["kind"], item["party"]): item["reason"] for item in doc["repair"]["left"]}
        assert set(left) == {("slot_mismatch", "pas"), ("duplicate_at_pas", "pas"), ("missing_at_broker", "broker"),
                             ("status_mismatch", "pas"), ("status_mismatch", "gp")}
        assert left[("status_mismatch", "pas")] == "still lost after 10 resends (last: timeout)"
        assert "cancel all but one" in left[("duplicate_at_pas", "pas")]
        assert "nothing to resend" in left[("missing_at_broker", "broker")]

        # Once the links are mended, the cancellations go through too.
        await configure(client, urls, 3, [])
        rec, doc, _ = await reconcile(client, urls, journal=False, repair=True)
        assert by_kind(rec) == {"slot_mismatch": {moved}, "duplicate_at_pas": {duplicated},
                                "missing_at_broker": {stranger}}


async def test_lost_acks_in_reliable_mode_without_dedupe_leave_duplicates_that_are_all_found(tmp_path):
    rule = {"link": "broker->pas:*", "event": "booking-request", "action": "lose-ack", "probability": 0.3}
    async with inprocess_stack(tmp_path, population_size=120, pas_overrides={"dedupe": False}) as (urls, client, _):
        await configure(client, urls, 5, [rule], delivery="reliable")
        await dd.drive(client, urls, bookings=40, seed=5)
        await dd.wait_drained(client, urls)
        rec, doc, journal = await reconcile(client, urls, dedupe=False)
        acked_late = faulted(journal, "broker->pas:", "lose-ack")
        assert acked_late and by_kind(rec) == {"duplicate_at_pas": acked_late}
        assert (doc["score"]["precision"], doc["score"]["recall"], doc["score"]["injected"]) == (1.0, 1.0, len(acked_late))
        # Scored as if the trust deduplicated, the same findings are all spurious.
        rec2, doc2, _ = await reconcile(client, urls, dedupe=True)
        assert doc2["score"]["precision"] == 0.0 and doc2["score"]["recall"] == 1.0
