"""The trust catalogue and the slot arithmetic of weekly templates."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from party_common.trusts.catalogue import build_catalogue
from party_common.trusts.schedule import (
    ClinicSession,
    WeeklyTemplate,
    instant_to_minute,
    minute_to_iso,
    minute_to_stamp,
    stamp_to_minute,
)
from trust_pas.settings import Settings

DEFAULTS = Settings()
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def default_catalogue():
    return build_catalogue(None, DEFAULTS.calendar_start, DEFAULTS.horizon_days)


def test_defaults_start_on_a_monday_for_26_weeks():
    assert DEFAULTS.calendar_start == date(2027, 1, 4) and DEFAULTS.calendar_start.weekday() == 0
    assert DEFAULTS.horizon_days == 182


def test_trusts_mirror_the_study_table():
    cat = default_catalogue()
    layout = {ods: (t.size, [s.code for s in t.sites]) for ods, t in cat.trusts.items()}
    assert layout == {
        "RT1": ("large", ["RT101", "RT102"]),
        "RT2": ("large", ["RT201", "RT202"]),
        "RT3": ("large", ["RT301"]),
        "RT4": ("small", ["RT401"]),
    }
    for trust in cat.trusts.values():
        per_site = Counter(s.site.code for s in trust.services.values())
        for site in trust.sites:
            if trust.size == "large":
                assert 5 <= per_site[site.code] <= 6
            else:
                assert per_site[site.code] == 3


def test_service_and_slot_ids_are_fhir_ids():
    for service in default_catalogue().services:
        assert service.id == f"{service.trust_ods}-{service.site.code}-{service.specialty}".lower()
        t = service.template
        for k in (t.first, t.stop - 1):
            assert FHIR_ID.match(service.slot_id(k))


def test_catalogue_offers_well_over_100000_free_slots():
    cat = default_catalogue()
    total = sum(s.template.slot_count for s in cat.services)
    assert total > 150_000
    # A run of 100,000 bookings spread over the specialties must find free slots in each of them.
    per_specialty = Counter()
    for s in cat.services:
        per_specialty[s.specialty] += s.template.slot_count
    assert min(per_specialty.values()) > 100_000 / len(per_specialty) * 1.5


def test_slot_count_matches_counting_slots_one_by_one():
    service = default_catalogue().trust("RT2").services["rt2-rt201-cardiology"]
    t = service.template
    minutes = [t.start_minute(k) for k in range(t.first, t.stop)]
    assert minutes == sorted(set(minutes))
    assert minute_to_iso(minutes[0]) == "2027-01-04T08:00:00Z"
    # 18 + 20 weekday slots of 15 minutes and 12 on Saturday mornings, for 26 weeks.
    assert len(minutes) == (5 * 38 + 12) * 26
    assert minute_to_iso(minutes[-1]) < "2027-07-05"


def test_template_slots_follow_the_sessions():
    t = WeeklyTemplate([ClinicSession((0, 2), "09:00", "10:00", 15), ClinicSession((0,), "14:00", "14:30", 10)],
                       date(2027, 1, 4), 14)
    starts = [minute_to_iso(t.start_minute(k)) for k in range(t.first, t.stop)]
    assert starts[:8] == [
        "2027-01-04T09:00:00Z", "2027-01-04T09:15:00Z", "2027-01-04T09:30:00Z", "2027-01-04T09:45:00Z",
        "2027-01-04T14:00:00Z", "2027-01-04T14:10:00Z", "2027-01-04T14:20:00Z", "2027-01-06T09:00:00Z",
    ]
    assert len(starts) == 2 * 11
    assert minute_to_iso(t.end_minute(t.first + 4)) == "2027-01-04T14:10:00Z"


def test_calendar_may_start_mid_week():
    t = WeeklyTemplate([ClinicSession((0, 1, 2, 3, 4), "09:00", "10:00", 30)], date(2027, 1, 6), 7)
    assert minute_to_iso(t.start_minute(t.first)) == "2027-01-06T09:00:00Z"
    assert t.slot_count == 10


def test_overlapping_sessions_are_refused():
    with pytest.raises(ValueError):
        WeeklyTemplate([ClinicSession((0,), "09:00", "10:00", 15), ClinicSession((0,), "09:30", "11:00", 15)],
                       date(2027, 1, 4), 7)


def test_trusts_setting_replaces_the_catalogue():
    specs = [{"ods": "RX9", "name": "Elsewhere NHS Trust", "size": "small",
              "sessions": [{"days": ["wed"], "start": "10:00", "end": "11:00", "slot_minutes": 20}],
              "sites": [{"code": "RX901", "name": "Elsewhere Hospital", "specialties": ["cardiology", "ent"]}]}]
    cat = build_catalogue(specs, date(2027, 1, 4), 7)
    assert list(cat.trusts) == ["RX9"]
    assert sorted(cat.trusts["RX9"].services) == ["rx9-rx901-cardiology", "rx9-rx901-ent"]
    assert cat.trusts["RX9"].services["rx9-rx901-ent"].template.slot_count == 3
    with pytest.raises(ValueError):
        build_catalogue([{**specs[0], "sites": [{"code": "bad code!", "name": "x", "specialties": ["ent"]}]}],
                        date(2027, 1, 4), 7)


def test_stamps_round_trip_and_reject_near_misses():
    m = stamp_to_minute("202701040900")
    assert minute_to_stamp(m) == "202701040900"
    for bad in ("20270104090", "2027010409000", "202713040900", "2027010409x0", "２０２７０１０４０９００"):
        assert stamp_to_minute(bad) is None


def test_instants_must_carry_a_zone_and_whole_minutes():
    m = stamp_to_minute("202701040900")
    assert instant_to_minute("2027-01-04T09:00:00Z") == m
    assert instant_to_minute("2027-01-04T10:00:00+01:00") == m
    assert instant_to_minute("2027-01-04T09:00:00.000Z") == m
    assert instant_to_minute("2027-01-04T09:00:00") is None
    assert instant_to_minute("2027-01-04T09:00:30Z") is None
    assert instant_to_minute("2027-01-04") is None
    assert instant_to_minute(None) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-20_000, max_value=400_000))
def test_ordinal_at_or_after_is_the_first_slot_not_before(offset):
    t = default_catalogue().trust("RT3").services["rt3-rt301-ent"].template
    minute = t.planning_start + offset
    k = t.ordinal_at_or_after(minute)
    assert t.start_minute(k) >= minute
    assert t.start_minute(k - 1) < minute
    assert (t.ordinal_of(minute) is not None) == (t.start_minute(k) == minute and t.first <= k < t.stop)
