"""report.html from a hand-built run folder: escaped, self-contained, every lost UBRN linked to its trace;
and `testbed report` on good and bad folders."""

from __future__ import annotations

import re
import subprocess
import sys

from harness.report.html import write_report

from .dom import parse
from .synthetic_run import HOSTILE_LINK, discrepancy, entry, write_run

A = "broker->pas:RT1"


def _hostile_run(tmp_path):
    journal = [entry(1, 0.0, HOSTILE_LINK, ubrn="1", delivered=False, decision="drop"),
               entry(2, 2.0, A, ubrn="2"), entry(3, 4.0, A, ubrn="3", delivered=False, decision="drop")]
    return write_run(tmp_path / "run", journal, [
        discrepancy("1", "missing_at_pas", 'unknown to trust <b>"RT1"</b> & co'),
        discrepancy("3", "missing_at_pas", "unknown to trust RT1")],
        bookings=[{"ubrn": "1", "practice": "Y90001", "service": "<img src=x>", "outcome": "accepted",
                   "latency_ms": 3.0}])


def test_everything_from_the_run_is_escaped(tmp_path):
    page = write_report(_hostile_run(tmp_path)).read_text()
    assert "<script>alert(1)" not in page and "<img src=x>" not in page and "<b>\"RT1" not in page
    assert "&lt;b&gt;&quot;RT1&quot;&lt;/b&gt; &amp; co" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    dom = parse(page)
    assert len(dom.find_all("script")) == 1    # only the page's own table sorter


def test_the_page_is_self_contained(tmp_path):
    page = write_report(_hostile_run(tmp_path)).read_text()
    # The one URL allowed is the SVG namespace, which is a name, never fetched.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page)) - {"http://www.w3.org/2000/svg"}
    assert not urls
    dom = parse(page)
    assert not [e for e in dom.walk() if "src" in e.attrs or (e.tag == "link" and "href" in e.attrs)]
    assert "@import" not in page and "url(" not in page


def test_every_lost_booking_links_to_its_trace_and_every_link_has_a_line(tmp_path):
    folder = _hostile_run(tmp_path)
    dom = parse(write_report(folder).read_text())
    ids = {e.attrs["id"] for e in dom.walk() if "id" in e.attrs}
    hrefs = [a.attrs["href"] for a in dom.find_all("table", "lost")[0].find_all("a")]
    assert hrefs == ["#trace-1", "#trace-3"]
    assert {h[1:] for h in hrefs} <= ids
    trace = next(e for e in dom.walk() if e.attrs.get("id") == "trace-1")
    assert "drop" in trace.all_text() and "absent" in trace.all_text()
    plotted = {g.attrs["data-link"] for g in dom.find_all("g", "series")}
    assert plotted == {A, HOSTILE_LINK}
    assert (folder / "report.json").is_file()


def _testbed(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_testbed_report_writes_both_files_and_prints_the_page(tmp_path):
    folder = _hostile_run(tmp_path)
    done = _testbed("report", str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(folder / "report.html")
    assert (folder / "report.json").is_file() and (folder / "report.html").is_file()


def test_testbed_report_on_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    done = _testbed("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"testbed: error: {tmp_path} is not a run folder (no scenario.json, summary.json, journal.jsonl,"
        " reconciliation.json)"]


def test_a_clean_run_says_nothing_was_lost(tmp_path):
    folder = write_run(tmp_path / "clean", [entry(1, 0.0, A, ubrn="1"), entry(2, 1.0, A, ubrn="2")], [])
    dom = parse(write_report(folder).read_text())
    lost = next(e for e in dom.walk() if e.attrs.get("id") == "lost")
    assert "every party agrees on every booking" in lost.all_text()
    assert not dom.find_all("table", "lost") and not dom.find_all("article", "trace")
    assert [g.attrs["data-link"] for g in dom.find_all("g", "series")] == [A]
    assert "No faults injected" in dom.all_text() and "sets no expectations" in dom.all_text()


def test_numbers_are_written_for_people():
    from harness.report.html import fmt_ms, fmt_num

    assert [fmt_num(v) for v in (1420.0, 12345.6, 304.4, 30.44, 1.5, 0.57, 0.000123, 0.0, 7, 1_000_000)] == [
        "1,420", "12,346", "304", "30.4", "1.5", "0.57", "0.000123", "0", "7", "1,000,000"]
    assert [fmt_ms(v) for v in (0.5, 303.8, 999.4, 1420.0, 6098.4, 125_000.0, None)] == [
        "0.5 ms", "304 ms", "999 ms", "1.42 s", "6.1 s", "125 s", "–"]


def test_latencies_read_as_seconds_or_milliseconds_never_in_exponent_form(tmp_path):
    summary = {"run": {"seed": 5, "stack": "embedded"}, "bookings": {"attempted": 4, "accepted": 4},
               "latency_ms": {"p50": 1053.46, "p90": 1348.498, "p99": 6072.882, "max": 6098.423},
               "duration_s": 1234.6, "reconciliation": {"disagreeing": 1, "error_rate": 0.25}}
    folder = write_run(tmp_path / "slow", [entry(1, 0.0, A, ubrn="1", delivered=False, decision="drop"),
                                           entry(2, 1500.0, A, ubrn="2")],
                       [discrepancy("1", "missing_at_pas", "unknown to trust RT1")], summary=summary,
                       bookings=[{"ubrn": "1", "practice": "Y90001", "service": "s", "outcome": "accepted",
                                  "latency_ms": 1420.0}])
    page = write_report(folder).read_text()
    dom = parse(page)
    cards = {c.find_all("div", "k")[0].all_text(): c.find_all("div", "v")[0].all_text()
             for c in dom.find_all("div", "card")}
    assert (cards["p50 latency"], cards["p99 latency"], cards["duration"]) == ("1.05 s", "6.07 s", "1,235 s")
    assert "<b>accepted</b> in 1.42 s." in page
    assert not re.search(r"\de[+-]\d", dom.all_text())
