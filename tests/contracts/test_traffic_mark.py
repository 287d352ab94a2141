"""The contract suites' mark on their bookings, and what reconciliation makes of it: cleaned-up suite
traffic is left out (with a note), anything else stays a discrepancy."""

from __future__ import annotations

from contracts.messages import fresh_ubrn
from contracts.providers import pas as pas_suite
from contracts.traffic import CONTRACT_PRACTICE, is_contract_booking
from harness.reconcile import PartyRecords, Strings, reconcile_records
from harness.reconcile.service import reconcile_captured

SLOT, START, END = "RT1-card-202701040930", "2027-01-04T09:30:00Z", "2027-01-04T09:45:00Z"


def rec(status="booked", practice="Y90001"):
    return (status, SLOT, START, END, "RT1", practice)


def parties(**held):
    strings = Strings()
    out = {p: PartyRecords(p, strings) for p in ("broker", "pas", "spine", "gp")}
    for party, items in held.items():
        for key, r in items:
            out[party].add(key, r)
    return out


def test_the_suites_book_inside_their_mark():
    assert all(is_contract_booking(fresh_ubrn()) for _ in range(200))
    assert pas_suite.PRACTICE == CONTRACT_PRACTICE
    assert is_contract_booking("pas:RT1/Appointment/abc", [CONTRACT_PRACTICE])
    # Not the mark: a UBRN elsewhere, a direct booking from a real practice, or from no named practice.
    assert not is_contract_booking("131679000012")
    assert not is_contract_booking("pas:RT1/Appointment/abc", ["Y90001"])
    assert not is_contract_booking("pas:RT1/Appointment/abc", [CONTRACT_PRACTICE, "Y90001"])
    assert not is_contract_booking("pas:RT1/Appointment/abc", [])


def test_suite_bookings_cancelled_again_are_set_aside_and_the_rest_still_reported():
    cleaned, left_live, real = "990000000001", "990000000002", "131679000012"
    spine_99 = "991234567890"   # the spine allocates in the 99 range too: in the ledger, judged as ever
    direct_suite, direct_real = "pas:RT1/Appointment/s1", "pas:RT1/Appointment/r1"
    sources = parties(
        broker=[(spine_99, rec())],
        pas=[(cleaned, rec("cancelled", CONTRACT_PRACTICE)), (left_live, rec("booked", CONTRACT_PRACTICE)),
             (real, rec("cancelled")), (direct_suite, rec("cancelled", CONTRACT_PRACTICE)),
             (direct_real, rec("cancelled"))],
        spine=[(cleaned, rec("cancelled")), (spine_99, rec())],
        gp=[(cleaned, rec("cancelled"))],
    )
    out = reconcile_records(sources["broker"], sources["pas"], sources["spine"], sources["gp"])
    reported = sorted((d.ubrn, d.kind) for d in out.discrepancies)
    assert reported == sorted([(left_live, "missing_at_broker"), (real, "missing_at_broker"),
                               (direct_real, "missing_at_broker"), (spine_99, "missing_at_gp"),
                               (spine_99, "missing_at_pas")])
    assert out.set_aside == 2 and out.checked == 4
    note = reconcile_captured(sources).notes
    assert note == ["2 booking(s) the contract suites made and cancelled again (marked as contracts/traffic.py "
                    "says) left out"]
