"""The classification rules, one booking at a time, and the bulk join that applies them."""

from __future__ import annotations

import pytest

from harness.reconcile import KINDS, PartyRecords, Strings, classify, reconcile_records
from harness.reconcile.records import LineSplitter, normalise_time
from party_common.booking import BookingFacts, appointment_resource

SLOT, OTHER = "RT1-card-202701040930", "RT1-card-202701041000"
START, END = "2027-01-04T09:30:00Z", "2027-01-04T09:45:00Z"


def rec(status="booked", slot=SLOT, start=START, end=END, trust="RT1", gp="Y90001"):
    return (status, slot, start, end, trust, gp)


def kinds(led, pas=(), spine=None, gp=None):
    return sorted((d.kind, d.party) for d in classify("100000000001", led, list(pas), spine, gp))


@pytest.mark.parametrize("led,pas,spine,gp,expected", [
    # All agree: nothing to say.
    (rec(), [rec()], rec(), rec(), []),
    (rec("cancelled"), [rec("cancelled")], rec("cancelled"), rec("cancelled"), []),
    # A cancelled booking nobody else ever heard of: nobody holds it, nothing to say.
    (rec("cancelled"), [], None, None, []),
    (rec("cancelled"), [], None, rec("proposed"), []),
    # The 2006 loss.
    (rec(), [], rec(), rec(), [("missing_at_pas", "pas")]),
    (rec(), [rec()], None, rec(), [("missing_at_spine", "spine")]),
    (rec(), [rec()], rec(), None, [("missing_at_gp", "gp")]),
    (rec(), [rec()], rec(), rec("proposed"), [("missing_at_gp", "gp")]),
    (rec(), [], None, None, [("missing_at_gp", "gp"), ("missing_at_pas", "pas"), ("missing_at_spine", "spine")]),
    # Booked in one, cancelled in another.
    (rec("cancelled"), [rec()], rec("cancelled"), rec("cancelled"), [("status_mismatch", "pas")]),
    (rec(), [rec("cancelled")], rec(), rec(), [("status_mismatch", "pas")]),
    (rec("cancelled"), [], rec(), rec("cancelled"), [("status_mismatch", "spine")]),
    (rec("cancelled"), [], None, rec(), [("status_mismatch", "gp")]),
    (rec(), [rec()], rec("cancelled"), rec("entered-in-error"), [("status_mismatch", "gp"), ("status_mismatch", "spine")]),
    # Refused by the trust (reliable mode): nobody may hold it booked, the practice must be told.
    (rec("entered-in-error"), [], None, rec("entered-in-error"), []),
    (rec("entered-in-error"), [rec()], None, rec("entered-in-error"), [("status_mismatch", "pas")]),
    (rec("entered-in-error"), [], None, None, [("missing_at_gp", "gp")]),
    (rec("entered-in-error"), [], None, rec("proposed"), [("missing_at_gp", "gp")]),
    (rec("entered-in-error"), [], None, rec(), [("status_mismatch", "gp")]),
    # Slots and times.
    (rec(), [rec(slot=OTHER)], rec(), rec(), [("slot_mismatch", "pas")]),
    (rec(), [rec()], rec(start="2027-01-04T10:00:00Z"), rec(), [("slot_mismatch", "spine")]),
    (rec(), [rec()], rec(), rec(start=None, end=None), []),     # a view without times: the slot decides
    # Duplicates outrank a slot difference; cancelled copies beside one booked are history, not duplicates.
    (rec(), [rec(), rec(slot=OTHER)], rec(), rec(), [("duplicate_at_pas", "pas")]),
    (rec(), [rec(), rec()], rec(), rec(), [("duplicate_at_pas", "pas")]),
    (rec(), [rec("cancelled"), rec()], rec(), rec(), []),
    (rec("cancelled"), [rec(), rec()], rec("cancelled"), rec("cancelled"), [("status_mismatch", "pas")]),
    # Unknown to the broker.
    (None, [rec()], None, None, [("missing_at_broker", "broker")]),
    (None, [], None, rec("cancelled"), [("missing_at_broker", "broker")]),
])
def test_classify(led, pas, spine, gp, expected):
    assert kinds(led, pas, spine, gp) == expected


def _records(party, strings, items):
    r = PartyRecords(party, strings)
    for ubrn, rec_ in items:
        r.add(ubrn, rec_)
    return r


def test_bulk_join_agrees_with_classify_booking_by_booking():
    """The fast path must not hide anything classify would report."""
    import random

    rng = random.Random(3)
    strings = Strings()
    parties = {p: PartyRecords(p, strings) for p in ("broker", "pas", "spine", "gp")}
    choices = [None, rec(), rec("cancelled"), rec(slot=OTHER), rec("proposed"), rec(start=None)]
    expected = []
    for i in range(3000):
        u = f"{i:012d}"
        led = rng.choice([rec(), rec(), rec(), rec("cancelled"), rec("entered-in-error"), None])
        pas = [r for r in (rng.choice(choices[:4]), rng.choice([None] * 8 + [rec()])) if r]
        spine, gp = rng.choice(choices[:4]), rng.choice(choices)
        if led:
            parties["broker"].add(u, led)
        for r in pas:
            parties["pas"].add(u, r)
        if spine:
            parties["spine"].add(u, spine)
        if gp:
            parties["gp"].add(u, gp)
        expected += [(d.ubrn, d.kind, d.party) for d in classify(u, led, pas, spine, gp)]
    out = reconcile_records(parties["broker"], parties["pas"], parties["spine"], parties["gp"])
    assert sorted((d.ubrn, d.kind, d.party) for d in out.discrepancies) == sorted(expected)
    assert out.disagreeing == len({u for u, _, _ in expected})
    scoped = reconcile_records(parties["broker"], parties["pas"], parties["spine"], parties["gp"],
                               scope={"000000000001", "000000000002"})
    assert {d.ubrn for d in scoped.discrepancies} <= {"000000000001", "000000000002"}


def test_reading_appointments_normalises_and_keeps_duplicates():
    facts = BookingFacts(ubrn="123456789012", nhs_number="9990000018", trust_ods=None, gp_ods="Y90001",
                         service_id="RT1-card", slot_id=SLOT, start="2027-01-04T10:30:00+01:00",
                         end="2027-01-04T09:45:00Z", status="booked")
    line = appointment_resource(facts)
    no_ubrn = appointment_resource(BookingFacts(**{**facts.__dict__, "ubrn": None}))
    import orjson

    blob = b"\n".join([orjson.dumps(line), b"", b"{not json", orjson.dumps(no_ubrn), orjson.dumps(line),
                       orjson.dumps({"resourceType": "Patient"}), orjson.dumps({"resourceType": "Appointment", "identifier": 5})])
    records = PartyRecords("pas")
    splitter = LineSplitter()
    for i in range(0, len(blob), 7):   # chunk boundaries anywhere
        records.ingest_lines(splitter.feed(blob[i:i + 7]), trust="RT1")
    records.ingest_lines(splitter.end(), trust="RT1")
    assert records.get("123456789012") == [("booked", SLOT, START, END, "RT1", "Y90001")] * 2
    assert (records.records, records.unjoined, records.malformed) == (2, 1, 3)


@pytest.mark.parametrize("raw,norm", [
    ("2027-01-04T09:30:00Z", "2027-01-04T09:30:00Z"),
    ("2027-01-04T09:30:00+00:00", "2027-01-04T09:30:00Z"),
    ("2027-01-04T10:30:00+01:00", "2027-01-04T09:30:00Z"),
    ("2027-01-04T09:30:00", "2027-01-04T09:30:00Z"),
    ("2027-01-04T09:30:00.250Z", "2027-01-04T09:30:00.250000Z"),
    ("soon", "soon"),
])
def test_times_are_compared_as_instants(raw, norm):
    assert normalise_time(raw) == norm


def test_kind_names_are_the_issue_s():
    assert set(KINDS) == {"missing_at_pas", "missing_at_broker", "status_mismatch", "slot_mismatch",
                          "duplicate_at_pas", "missing_at_spine", "missing_at_gp",
                          # referrals (servicerequest-request)
                          "referral_missing_at_pas", "referral_missing_at_broker", "duplicate_referral_at_pas",
                          "referral_unanswered_at_gp"}


def test_a_lost_booking_whose_slot_went_to_another_says_who_holds_it():
    strings = Strings()
    broker, pas, spine, gp = (_records(p, strings, []) for p in ("broker", "pas", "spine", "gp"))
    for u in ("000000000001", "000000000002"):
        broker.add(u, rec())
        spine.add(u, rec())
        gp.add(u, rec())
    pas.add("000000000002", rec())
    (d,) = reconcile_records(broker, pas, spine, gp).discrepancies
    assert (d.ubrn, d.kind) == ("000000000001", "missing_at_pas")
    assert d.detail.endswith("its slot is now booked at the trust under UBRN 000000000002")
