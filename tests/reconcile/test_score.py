"""The journal as the judge: injected losses and duplicates, link error rates, bounds."""

from __future__ import annotations

import itertools

import pytest

from harness.run.error_rates import Bound, delivery_failed, expectation_misses, link_bound_misses, link_rates
from harness.reconcile.rules import Discrepancy
from harness.reconcile.score import found, injected, score
from harness.scenario.model import DiscrepancyBounds, parse_scenario
from harness.reconcile import KINDS

_seq = itertools.count(1)
U = "100000000001"


def entry(link, event, decision="pass", outcome="delivered", delivered=True, msg="m1", purpose="delivery",
          status=200, ubrn=U):
    return {"seq": next(_seq), "link": link, "event": event, "message_id": msg, "bundle_id": msg + "b",
            "ubrn": ubrn, "decision": decision, "outcome": outcome, "delivered": delivered, "status": status,
            "purpose": purpose}


PAS, SPINE, GP = "broker->pas:RT1", "broker->spine", "broker->gp:Y90001"
DROP = {"decision": "drop", "outcome": "timeout", "delivered": False, "status": None}


@pytest.mark.parametrize("status,entries,dedupe,expected", [
    # Dropped: a loss; delivered on a retry: none.
    ("booked", [entry(PAS, "booking-request", **DROP)], True, {(U, "pas", "loss")}),
    ("booked", [entry(PAS, "booking-request", **DROP), entry(PAS, "booking-request")], True, set()),
    # Repairs are not faults: a loss repaired is still a loss injected.
    ("booked", [entry(PAS, "booking-request", **DROP), entry(PAS, "booking-request", purpose="repair")], True,
     {(U, "pas", "loss")}),
    # A lost ack was processed.
    ("booked", [entry(PAS, "booking-request", decision="lose-ack", outcome="timeout", status=None)], True, set()),
    # Processed twice: a duplicate only at a trust that does not deduplicate.
    ("booked", [entry(PAS, "booking-request", decision="lose-ack", outcome="timeout", status=None),
                entry(PAS, "booking-request")], False, {(U, "pas", "duplicate")}),
    ("booked", [entry(PAS, "booking-request", decision="duplicate"),
                entry(PAS, "booking-request", decision="duplicate-copy")], True, set()),
    ("booked", [entry(PAS, "booking-request", decision="duplicate"),
                entry(PAS, "booking-request", decision="duplicate-copy")], False, {(U, "pas", "duplicate")}),
    ("booked", [entry(SPINE, "booking-request", decision="duplicate"),
                entry(SPINE, "booking-request", decision="duplicate-copy")], False, set()),
    # A corrupted body is rejected by the receiver: lost.
    ("booked", [entry(GP, "booking-request", decision="corrupt", outcome="rejected", delivered=False, status=400)],
     True, {(U, "gp", "loss")}),
    # Cancelled: the cancel is owed; lost while the booking had arrived -> loss.
    ("cancelled", [entry(PAS, "booking-request"), entry(PAS, "booking-cancel", msg="m2", **DROP)], True,
     {(U, "pas", "loss")}),
    # Neither the booking nor its cancel ever arrived: the trust holds nothing live.
    ("cancelled", [entry(PAS, "booking-request", **DROP),
                   entry(PAS, "booking-cancel", msg="m2", outcome="rejected", delivered=False, status=422)], True, set()),
    # Held back, then released after the cancel: the booking is live again at the trust.
    ("cancelled", [entry(PAS, "booking-request", decision="reorder", outcome="held", delivered=False, status=None),
                   entry(PAS, "booking-cancel", msg="m2", outcome="rejected", delivered=False, status=422),
                   entry(PAS, "booking-request", decision="release")], True, {(U, "pas", "loss")}),
    # ... but a practice keeps a cancellation whatever arrives after it.
    ("cancelled", [entry(GP, "booking-cancel", msg="m2"), entry(GP, "booking-request", decision="release")], True,
     set()),
    # Refused by the trust: nothing owed to the trust, the refusal owed to the practice.
    ("entered-in-error", [entry(PAS, "booking-request", decision="error", outcome="rejected", delivered=False,
                                status=422), entry(GP, "booking-request", **DROP)], True, {(U, "gp", "loss")}),
    # Cancelled by the practice before the trust's refusal came: told of the cancellation (the refusal
    # delivered or not), it holds the booking cancelled, not live, as the refusal asks.
    ("entered-in-error", [entry(GP, "booking-request", decision="pass"), entry(GP, "booking-cancel", msg="m2")],
     True, set()),
    ("entered-in-error", [entry(GP, "booking-request", **DROP), entry(GP, "booking-cancel", msg="m2")], True, set()),
    # Messages that are not bookings (UBRN allocation, slot search) are nobody's loss.
    ("booked", [entry(SPINE, "allocate-ubrn", **DROP)], True, set()),
])
def test_injected(status, entries, dedupe, expected):
    assert injected(entries, {U: status}, dedupe) == expected


def test_bookings_the_broker_never_recorded_are_not_losses():
    assert injected([entry(PAS, "booking-request", **DROP)], {}, True) == set()


def test_found_and_score():
    ds = [Discrepancy(U, "missing_at_pas", "pas", ""), Discrepancy(U, "status_mismatch", "gp", ""),
          Discrepancy("2", "duplicate_at_pas", "pas", ""), Discrepancy("3", "slot_mismatch", "pas", "")]
    f = found(ds)
    truth = {(U, "pas", "loss"), (U, "gp", "loss"), ("2", "pas", "duplicate"), ("4", "spine", "loss")}
    s = score(f, truth)
    assert (s["precision"], s["recall"]) == (0.75, 0.75)
    assert s["missed"] == [["4", "spine", "loss"]] and s["spurious"] == [["3", "pas", "slot_mismatch"]]
    assert score(set(), set())["precision"] == score(set(), set())["recall"] == 1.0


def test_link_rates_count_attempts_not_copies_and_not_refusals():
    j = [entry(PAS, "booking-request", **DROP), entry(PAS, "booking-request"),
         entry(PAS, "booking-request", decision="duplicate-copy"),
         entry(PAS, "booking-request", decision="reorder", outcome="held", delivered=False, status=None),
         entry(PAS, "booking-request", decision="release"),
         entry(PAS, "booking-request", outcome="rejected", delivered=False, status=409),     # the trust said no
         entry(PAS, "booking-cancel", decision="error", outcome="failed", delivered=False, status=503),
         entry(PAS, "booking-cancel", decision="lose-ack", outcome="timeout", status=None),
         entry(SPINE, "booking-request", decision="corrupt", outcome="rejected", delivered=False, status=400)]
    rates = link_rates(j)
    assert rates[PAS]["events"]["booking-request"] == {"attempts": 4, "failed": 1, "rate": 0.25}
    assert rates[PAS]["events"]["booking-cancel"] == {"attempts": 2, "failed": 1, "rate": 0.5}
    assert (rates[PAS]["attempts"], rates[PAS]["failed"]) == (6, 2)
    assert rates[SPINE]["rate"] == 1.0
    assert delivery_failed(j[2]) is None


def test_link_bounds_by_glob_and_event():
    rates = link_rates([entry(PAS, "booking-request", **DROP), entry("broker->pas:RT2", "booking-request"),
                        entry(PAS, "slot-search")])
    assert link_bound_misses(rates, "broker->pas:*", Bound(max=0.6)) == []
    miss = link_bound_misses(rates, "broker->pas:*#booking-request", Bound(max=0.6))
    assert len(miss) == 1 and miss[0].startswith("link broker->pas:RT1#booking-request error rate 1.0000 exceeds")
    assert link_bound_misses(rates, "broker->gp:*", Bound(max=1)) == ["link 'broker->gp:*' matches no link in the journal"]


def test_scenario_expectations():
    spec = parse_scenario({"expect": {"error_rate": {"min": 0.52, "max": 0.62},
                                      "discrepancies": {"missing_at_pas": {"min": 1}, "total": {"max": 3}},
                                      "links": {"broker->pas:*": {"max": 0.7}},
                                      "score": {"recall": {"min": 1.0}}}})
    summary = {"error_rate": 0.5, "disagreeing": 5, "attempted": 10,
               "counts": {k: 0 for k in KINDS} | {"missing_at_pas": 5}}
    rates = link_rates([entry(PAS, "booking-request", **DROP)])
    missed = expectation_misses(spec.expect, summary, rates, {"precision": 1.0, "recall": 0.9})
    assert [m.split(":")[0] for m in missed] == ["expect.error_rate", "expect.discrepancies.total",
                                                 "expect.links['broker->pas", "expect.score.recall"]
    assert all("\n" not in m for m in missed)
    summary |= {"error_rate": 0.55, "disagreeing": 11, "attempted": 20, "counts": {k: 0 for k in KINDS} | {"missing_at_pas": 2}}
    assert expectation_misses(spec.expect, summary, link_rates([entry(PAS, "booking-request")]),
                              {"precision": 1.0, "recall": 1.0}) == []


def test_the_expect_block_names_every_kind():
    assert set(DiscrepancyBounds.model_fields) == {*KINDS, "total"}


def test_bounds_compare_the_exact_ratio_not_its_rounding():
    from harness.run.error_rates import end_to_end_miss

    summary = {"error_rate": round(1 / 60, 6), "disagreeing": 1, "attempted": 60}
    assert end_to_end_miss(summary, Bound(max=1 / 60)) is None
    assert end_to_end_miss(summary, Bound(max=0.0166)) is not None
    assert link_bound_misses({"l": {"attempts": 60, "failed": 1, "rate": round(1 / 60, 6), "events": {}}}, "l",
                             Bound(max=1 / 60)) == []
