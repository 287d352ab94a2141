"""report.json from a hand-built journal: the bucket maths, and which bookings count as lost."""

from __future__ import annotations

import pytest

from harness.run.error_rates import link_rates
from harness.replay.trace import Tracer
from harness.report.data import (MAX_BUCKETS, MIN_BUCKETS, ReportError, bucket_count, build_report,
                                 error_rate_series, lost_bookings, smoothed)

from .synthetic_run import discrepancy, entry, write_run

A, B = "broker->pas:RT1", "broker->spine"


def test_attempts_fall_in_equal_buckets_over_the_journal_clock():
    journal = [
        entry(1, 10.0, A), entry(2, 12.4, A, delivered=False, decision="drop"),
        entry(3, 12.6, A, delivered=False, decision="drop"), entry(4, 14.9, A),
        entry(5, 18.0, A, delivered=False, decision="drop"),   # the last instant: the last bucket
        entry(6, 11.0, B), entry(7, 17.5, B),
    ]
    ts = error_rate_series(journal, buckets=4)
    assert ts["edges"] == [10.0, 12.0, 14.0, 16.0, 18.0]
    raw = ("attempts", "failed", "rate")
    assert {k: ts["links"][A][k] for k in raw} == {"attempts": [1, 2, 1, 1], "failed": [0, 2, 0, 1],
                                                   "rate": [0.0, 1.0, 0.0, 1.0]}
    # No attempt in a bucket is a gap, not a rate of 0.
    assert {k: ts["links"][B][k] for k in raw} == {"attempts": [1, 0, 0, 1], "failed": [0, 0, 0, 0],
                                                   "rate": [0.0, None, None, 0.0]}


def test_buckets_count_what_the_link_totals_count():
    journal = [
        entry(1, 0.5, A),
        entry(2, 0.6, A, decision="duplicate-copy"),                        # a copy is not an attempt
        entry(3, 0.7, A, delivered=False, decision="reorder", outcome="held"),  # counted at its release
        entry(4, 0.8, A, delivered=False, outcome="rejected"),              # the receiver said no: delivered
        entry(5, 0.9, A, delivered=False, decision="error", outcome="rejected"),  # injected: failed
        entry(6, None, A, delivered=False, decision="drop"),                # no time: left out, but counted
    ]
    ts = error_rate_series(journal, buckets=2)
    assert ts["links"][A]["attempts"] == [1, 2]   # 0.5 | 0.8, 0.9 over [0.5, 0.7), [0.7, 0.9]
    assert ts["links"][A]["failed"] == [0, 1]
    assert ts["untimed_attempts"] == 1
    totals = link_rates([e for e in journal if e["elapsed_s"] is not None])[A]
    assert sum(ts["links"][A]["attempts"]) == totals["attempts"]
    assert sum(ts["links"][A]["failed"]) == totals["failed"]


def test_simulated_seconds_are_just_numbers():
    """A virtual clock may put a run's whole journal at one instant, or hours apart."""
    same = error_rate_series([entry(1, 3600.0, A), entry(2, 3600.0, A, delivered=False, decision="drop")])
    assert same["edges"] == [3600.0, 3600.0]
    assert same["links"][A]["rate"] == [0.5]
    spread = error_rate_series([entry(i, i * 3600.0, A) for i in range(1, 301)])
    assert spread["edges"][0] == 3600.0 and spread["edges"][-1] == 300 * 3600.0
    assert len(spread["edges"]) - 1 == 60 and sum(spread["links"][A]["attempts"]) == 300


def test_bucket_count_keeps_several_attempts_per_bucket_within_bounds():
    assert bucket_count(0) == bucket_count(60) == MIN_BUCKETS
    assert bucket_count(200) == 40
    assert bucket_count(1_000_000) == MAX_BUCKETS


def tracer(journal: list[dict], rec: dict, bookings: list[dict]) -> Tracer:
    return Tracer(scenario={"seed": 5}, id_salt="0", journal=journal, bookings=bookings, views={},
                  discrepancies=rec["discrepancies"])


def test_lost_bookings_put_the_trust_losses_first_and_carry_their_own_hops():
    journal = [entry(1, 0.1, A, ubrn="300"), entry(2, 0.2, A, ubrn="100", delivered=False, decision="drop"),
               entry(3, 0.3, B, ubrn="100"), entry(4, 0.4, B, ubrn="200"), entry(5, 0.5, B, ubrn="999")]
    rec = {"discrepancies": [discrepancy("300", "slot_mismatch", "slot differs"),
                             discrepancy("200", "missing_at_gp", "gp never told"),
                             discrepancy("100", "missing_at_pas", "unknown to trust RT1"),
                             discrepancy("100", "missing_at_spine", "not indexed")]}
    rows, total = lost_bookings(rec, tracer(journal, rec, [{"ubrn": "100", "index": 0, "practice": "Y90001"}]))
    assert total == 3
    assert [r["ubrn"] for r in rows] == ["100", "300", "200"]
    assert rows[0]["kinds"] == ["missing_at_pas", "missing_at_spine"]
    assert [h["seq"] for h in rows[0]["hops"]] == [2, 3]
    assert rows[0]["hops"][0]["decision"] == "drop" and rows[0]["hops"][0]["delivered"] is False
    assert rows[0]["booking"]["practice"] == "Y90001" and rows[1]["booking"] is None
    assert rows[0]["views"]["pas"] == []
    capped, total = lost_bookings(rec, tracer(journal, rec, []), limit=2)
    assert total == 3 and [r["ubrn"] for r in capped] == ["100", "300"]


def test_build_report_from_a_run_folder(tmp_path):
    folder = write_run(tmp_path / "run", [entry(1, 0.0, A, ubrn="1", delivered=False, decision="drop"),
                                          entry(2, 1.0, A, ubrn="2")],
                       [discrepancy("1", "missing_at_pas", "unknown to trust RT1")])
    doc = build_report(folder, max_lost=10)
    assert doc["run"] == "run" and doc["scenario"]["name"] == "synthetic"
    assert doc["discrepancies"]["counts"]["missing_at_pas"] == 1 and doc["discrepancies"]["total"] == 1
    assert doc["lost"] == {"total": 1, "shown": 1, "bookings": doc["lost"]["bookings"]}
    assert doc["links"][A]["failed"] == 1
    assert len(doc["error_rate_series"]["edges"]) == MIN_BUCKETS + 1


def test_a_folder_that_is_not_a_run_folder_is_one_line(tmp_path):
    with pytest.raises(ReportError, match="not a run folder .no such directory"):
        build_report(tmp_path / "absent")
    (tmp_path / "scenario.json").write_text("{}")
    with pytest.raises(ReportError, match=r"no summary.json, journal.jsonl, reconciliation.json"):
        build_report(tmp_path)


def test_smoothing_pools_neighbouring_buckets_until_they_hold_enough_attempts():
    # One attempt a bucket, failing every other one: raw rates jump 0, 1, 0, 1 ...
    attempts, failed = [1] * 10, [i % 2 for i in range(10)]
    # Three attempts a window: each point is its bucket and one either side; at the ends the window
    # is cut by the run's edge and widens on its one side until it holds three.
    assert smoothed(attempts, failed, need=3) == [0.333333, 0.333333, 0.666667, 0.333333, 0.666667,
                                                  0.333333, 0.666667, 0.333333, 0.666667, 0.666667]
    # A bucket with no attempt stays a gap; fewer attempts in all than asked for: the whole run's rate.
    assert smoothed([2, 0, 2], [2, 0, 0], need=100) == [0.5, None, 0.5]
    assert smoothed([20, 1], [0, 1], need=20) == [0.0, 0.047619]


def test_links_are_split_by_event_and_combined_per_family():
    rt1, rt2 = "broker->pas:RT1", "broker->pas:RT2"
    journal = []
    for i in range(40):   # per trust: a booking message (every 2nd lost at RT1, every 3rd... at RT2) and a search
        t = float(i)
        journal += [entry(4 * i + 1, t, rt1, delivered=i % 2 == 1, decision="pass" if i % 2 else "drop"),
                    entry(4 * i + 2, t, rt1, event="slot-search"),
                    entry(4 * i + 3, t, rt2, delivered=i % 4 != 0, decision="pass" if i % 4 else "drop"),
                    entry(4 * i + 4, t, rt2, event="slot-search")]
    ts = error_rate_series(journal, buckets=40)
    assert ts["smooth_attempts"] == 20
    links = ts["links"]
    assert sum(links[rt1]["events"]["booking-request"]["failed"]) == 20
    assert sum(links[rt1]["events"]["slot-search"]["failed"]) == 0
    # The raw booking rate of RT1 jumps between 0% and 100%; smoothed, it stays near its 50%.
    assert set(links[rt1]["events"]["booking-request"]["rate"]) == {0.0, 1.0}
    assert all(0.4 <= r <= 0.6 for r in links[rt1]["events"]["booking-request"]["smoothed"])
    fam = ts["families"]["broker->pas:*"]
    assert fam["links"] == [rt1, rt2]
    combined = fam["events"]["booking-request"]
    assert sum(combined["attempts"]) == 80 and sum(combined["failed"]) == 30
    assert all(0.3 <= r <= 0.45 for r in combined["smoothed"])
    assert sum(fam["all"]["attempts"]) == 160 and sum(fam["all"]["failed"]) == 30
