"""The one end-to-end proof: a faulty `testbed run` writes report.html, and a real headless browser with
no network renders it whole: plots, tables, links and all, and the same without its script."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_sockets import _free_ports, _port_args

from .dom import parse

pytestmark = pytest.mark.sockets

SCENARIO = """
name: report-browser
seed: 11
delivery: fire-and-forget
workload: {bookings: 60, concurrency: 4}
faults:
  - {link: "broker->pas:*", event: booking-request, action: drop, probability: 0.5}
"""

# Every network request fails: a proxy nobody listens on, and no name resolves.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", *OFFLINE, *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("report-run")
    (tmp / "scenario.yaml").write_text(SCENARIO)
    ports = _free_ports(4)
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", "--scenario", str(tmp / "scenario.yaml"),
                           "--json", "--runs-dir", str(tmp / "runs"), *_port_args(ports)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return Path(json.loads(done.stdout)["run"]["folder"]), done.stderr


def test_the_browser_is_really_offline(chromium, tmp_path):
    """The control: under OFFLINE a page that fetches anything gets an error, so a report that renders
    whole under it needed nothing from the network."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><body><img src="https://example.com/favicon.ico" '
                    "onerror=\"document.body.dataset.net='blocked'\" onload=\"document.body.dataset.net='open'\">"
                    "</body></html>")
    shown = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert parse(shown.stdout).find_all("body")[0].attrs.get("data-net") == "blocked"


def test_testbed_run_writes_the_report_and_says_where(faulty_run):
    folder, stderr = faulty_run
    assert f"report: {folder / 'report.html'}" in stderr
    doc = json.loads((folder / "report.json").read_text())
    assert doc["discrepancies"]["counts"]["missing_at_pas"] > 0
    assert doc["lost"]["total"] == doc["discrepancies"]["disagreeing"] > 0


def test_a_headless_browser_without_network_renders_the_whole_report(faulty_run, chromium, tmp_path):
    folder, _ = faulty_run
    doc = json.loads((folder / "report.json").read_text())
    shown = _browser(chromium, tmp_path / "profile", "--dump-dom", (folder / "report.html").as_uri())
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = parse(shown.stdout)

    # A smoothed line per link, drawn from the journal's buckets: a point per bucket with attempts.
    ts = doc["error_rate_series"]
    series = dom.find_all("g", "series")
    plain = [g for g in series if "combined" not in g.classes()]
    assert {g.attrs["data-link"] for g in plain} == set(ts["links"]) and plain
    for g in plain:
        link, event = g.attrs["data-link"], g.attrs["data-event"]
        data = ts["links"][link] if event == "*" else ts["links"][link]["events"][event]
        assert _same_line(_points(g), data["smoothed"]), (link, event)
    failing = [link for link, e in doc["links"].items() if e["failed"]]
    assert failing and all(link.startswith("broker->pas:") for link in failing)
    assert dom.find_all("svg", "bars")

    # The trusts' booking messages (not their slot searches, which never fail) get a combined line, whose
    # legend gives the run's rate over all trusts, and which stays off 0% and 100% where single
    # trusts' buckets of a message or two would jump between them.
    (combined,) = [g for g in series if "combined" in g.classes()
                   and g.attrs["data-family"] == "broker->pas:*" and g.attrs["data-event"] == "booking-request"]
    trusts = [e["events"]["booking-request"] for link, e in doc["links"].items() if link.startswith("broker->pas:")]
    sent, lost = sum(e["attempts"] for e in trusts), sum(e["failed"] for e in trusts)
    family = ts["families"]["broker->pas:*"]["events"]["booking-request"]
    assert (sum(family["attempts"]), sum(family["failed"])) == (sent, lost)
    assert _same_line(_points(combined), family["smoothed"])
    assert all(0 < r < 1 for r in _points(combined))
    legend = combined.parent.find_all("g", "legend")
    assert f"all trusts: {lost / sent * 100:.1f}% of {sent}" in [g.all_text() for g in legend]

    # Latencies for people: `1.42 s` or `304 ms`, never `1.42e+03 ms`.
    cards = {c.find_all("div", "k")[0].all_text(): c.find_all("div", "v")[0].all_text()
             for c in dom.find_all("div", "card")}
    assert all(re.fullmatch(r"[\d,]+(\.\d+)? (ms|s)", cards[f"{p} latency"]) for p in ("p50", "p90", "p99", "max"))
    assert not re.search(r"\de[+-]\d", dom.all_text())

    # The discrepancy table, one row per kind, with the run's counts.
    table = dom.find_all("table", "discrepancies")[0]
    rows = {tr.find_all("td")[0].all_text(): int(tr.find_all("td")[1].all_text())
            for tr in table.find_all("tbody")[0].find_all("tr")}
    assert rows == doc["discrepancies"]["counts"]

    # Each lost booking links to an anchor in the same page that holds its trace.
    ids = {e.attrs["id"]: e for e in dom.walk() if "id" in e.attrs}
    links = [a.attrs["href"] for a in dom.find_all("table", "lost")[0].find_all("a")]
    assert len(links) == doc["lost"]["shown"] == doc["lost"]["total"]
    for href in links:
        assert href.startswith("#trace-") and href[1:] in ids
        trace = ids[href[1:]]
        assert "broker->pas:" in trace.all_text() and "drop" in trace.all_text()


def test_the_report_shows_the_configured_rate_beside_the_measured_one(faulty_run, chromium, tmp_path):
    """The scenario's drop probability (an input) and the failure rate the run measured on the messages it
    matches (an outcome) are in the same row, each under its own label; --json carries the same two."""
    folder, _ = faulty_run
    summary = json.loads((folder / "summary.json").read_text())   # what `testbed run --json` printed
    assert summary["configured"]["label"] == "configured (input)"
    assert summary["measured"]["label"] == "measured (outcome)"
    (rule,) = summary["configured"]["rules"]
    (measured,) = summary["measured"]["rules"]
    assert (rule["id"], rule["action"], rule["probability"], rule["share"]) == ("r1", "drop", 0.5, 0.5)
    journal = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines() if line.strip()]
    sent = [e for e in journal if e["link"].startswith("broker->pas:") and e["event"] == "booking-request"]
    lost = [e for e in sent if e["rule_id"] == "r1"]
    assert (measured["matched"], measured["fired"], measured["failed"]) == (len(sent), len(lost), len(lost))
    assert measured["rate_is_input"] is True and 0 < len(lost) < len(sent)

    shown = _browser(chromium, tmp_path / "profile", "--dump-dom", (folder / "report.html").as_uri())
    assert shown.returncode == 0, shown.stderr[-2000:]
    table = parse(shown.stdout).find_all("table", "rules")[0]
    group = [th.all_text() for th in table.find_all("thead")[0].find_all("tr")[0].find_all("th")]
    assert group[1:] == ["configured (input)", "measured (outcome)"]
    heads = [th for th in table.find_all("thead")[0].find_all("tr")[1].find_all("th")]
    (row,) = table.find_all("tbody")[0].find_all("tr")
    cells = dict(zip([h.all_text() for h in heads], row.find_all("td")))
    assert "configured" in cells["plan"].classes() and cells["plan"].all_text() == "probability 0.5"
    assert cells["share of matching messages"].all_text() == "50.0% (drawn per message)"
    assert "measured" in cells["failure rate"].classes()
    assert cells["failure rate"].all_text() == f"{len(lost) / len(sent) * 100:.1f}%"
    assert cells["fired"].all_text() == str(len(lost)) and cells["messages matched"].all_text() == str(len(sent))
    assert cells["reading"].all_text().startswith("input, not a finding")


def _points(g) -> list[float]:
    """The error rates a drawn line passes through, read back from its SVG path (line_plot's y axis)."""
    svg = g.parent
    height = float(svg.attrs["height"])
    top, plot_h = 28.0, height - 28.0 - 44.0
    ys = [float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", g.find_all("path")[0].attrs["d"])]
    return [(top + plot_h - y) / plot_h for y in ys]


def _same_line(drawn: list[float], rates: list[float | None]) -> bool:
    """The drawn points are the rates with attempts, to the tenth of a pixel the path is written in."""
    wanted = [r for r in rates if r is not None]
    return len(drawn) == len(wanted) and all(abs(a - b) < 0.002 for a, b in zip(drawn, wanted))


def _screenshot(chromium: str, page: Path, tmp_path: Path) -> bytes:
    shot = tmp_path / f"{page.stem}.png"
    done = _browser(chromium, tmp_path / "profile", "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    return shot.read_bytes()


def test_the_page_is_drawn_and_needs_no_script(faulty_run, chromium, tmp_path):
    folder, _ = faulty_run
    page = (folder / "report.html").read_text()
    without_script = tmp_path / "report-without-script.html"
    without_script.write_text(re.sub(r"<script>.*?</script>", "", page, flags=re.S))
    assert "<script>" in page and "<script>" not in without_script.read_text()
    png = _screenshot(chromium, folder / "report.html", tmp_path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1200, 2400)
    # A blank page of this size compresses to a few kilobytes; text, tables and plots do not.
    assert len(png) > 60_000
    # The table sorter only waits for clicks: without it the page looks exactly the same.
    assert _screenshot(chromium, without_script, tmp_path) == png
