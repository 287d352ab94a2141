"""Record a faulty run on a real embedded stack, then replay it, tamper with it, trace it, replay one booking.

One recording serves every test here (it takes a few seconds); each replay starts a fresh stack.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from harness.replay.run import free_local_urls
from harness.replay.booking import replay_booking
from harness.run.record import load_run, read_jsonl
from harness.run.runner import RunOptions, run
from harness.scenario.model import load_scenario
from harness.replay.trace import trace_booking

SCENARIO = Path(__file__).with_name("faulty.yaml")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    _, folder = run(RunOptions(scenario=load_scenario(SCENARIO), urls=free_local_urls(), runs_dir=runs))
    return folder


@pytest.fixture(scope="module")
def lost(recorded) -> str:
    """A booking the broker and the practice believe in, whose message to its trust was dropped."""
    report = orjson.loads((recorded / "reconciliation.json").read_bytes())
    return next(d["ubrn"] for d in report["discrepancies"] if d["kind"] == "missing_at_pas")


def test_the_recording_is_faulty_and_self_sufficient(recorded):
    journal = read_jsonl(recorded / "journal.jsonl")
    decisions = {e["decision"] for e in journal}
    assert {"drop", "lose-ack", "duplicate"} <= decisions
    record = load_run(recorded)
    assert record.manifest["id_salt"] == str(record.manifest["journal_since"])
    bodies = record.messages()
    booked = [e for e in journal if e["link"].startswith("broker->pas:") and e["event"] == "booking-request"]
    assert booked and all(bodies[e["seq"]]["body"]["entry"][0]["resource"]["id"] == e["message_id"] for e in booked)


def test_replay_of_the_faulty_run_is_identical(recorded):
    done = cli("replay", str(recorded))
    assert done.returncode == 0, done.stderr
    replay_folder = Path(done.stderr.split("replay folder: ")[1].split()[0])
    assert orjson.loads((replay_folder / "replay.json").read_bytes())["identical"] is True
    assert len(read_jsonl(replay_folder / "journal.jsonl")) == len(read_jsonl(recorded / "journal.jsonl"))


def test_replay_reports_a_tampered_outcome_and_exits_1(recorded, lost, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(recorded, tampered, ignore=shutil.ignore_patterns("data", "logs"))
    rows = read_jsonl(tampered / "journal.jsonl")
    victim = next(e for e in rows if e["ubrn"] == lost and e["decision"] == "drop")
    victim["outcome"] = "delivered"
    (tampered / "journal.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in rows))
    done = cli("replay", str(tampered), "--runs-dir", str(tmp_path / "replays"))
    assert done.returncode == 1
    assert f"message {victim['message_id']} attempt 1: outcome was 'delivered', now 'timeout'" in done.stderr
    assert "testbed: error: the replay differs from the recording in 1 place(s)" in done.stderr


def test_trace_of_a_lost_booking_shows_the_drop_and_no_pas_record(recorded, lost):
    doc = trace_booking(recorded, lost)
    pas_hops = [h for h in doc["hops"] if h["link"].startswith("broker->pas:")]
    assert [(h["decision"], h["outcome"]) for h in pas_hops] == [("drop", "timeout")]
    assert pas_hops[0]["rule"].startswith("drop on broker->pas:*")
    assert [h["event"] for h in doc["hops"]][0] == "allocate-ubrn"     # found by its request, not its UBRN
    assert doc["hops"][-1]["link"].endswith("->broker")                # the practice's request, answered last
    assert doc["views"]["pas"] == [] and doc["views"]["broker"]["status"] == "booked"
    assert doc["views"]["gp"]["status"] == "booked"
    assert [d["kind"] for d in doc["discrepancies"]] == ["missing_at_pas"]
    shown = cli("trace", lost, str(recorded))
    assert shown.returncode == 0 and "no record" in shown.stdout and "drop" in shown.stdout
    as_json = cli("trace", lost, str(recorded), "--json")
    assert orjson.loads(as_json.stdout)["hops"] == orjson.loads(orjson.dumps(doc))["hops"]


def test_trace_and_replay_refuse_unknown_bookings_and_folders_in_one_line(recorded, tmp_path):
    for args in (("trace", "000000000000", str(recorded)), ("trace", "000000000000", "--runs-dir", str(tmp_path)),
                 ("replay", str(tmp_path))):
        done = cli(*args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("testbed: error:")
    old = tmp_path / "old"
    shutil.copytree(recorded, old, ignore=shutil.ignore_patterns("data", "logs", "manifest.json"))
    done = cli("replay", str(old))
    assert done.returncode == 2 and "no manifest.json" in done.stderr


def test_one_booking_replayed_on_a_fresh_stack_repeats_its_hops(recorded, lost):
    result = replay_booking(recorded, lost)
    assert result.differences == []
    sent = [h for h in result.hops if h.now is not None]
    assert {h.then["link"].split(":")[0] for h in sent} == {"broker->spine", "broker->pas", "broker->gp"}
    assert all((h.now["decision"], h.now["outcome"]) == (h.then["decision"], h.then["outcome"]) for h in sent)
    assert [h.note for h in result.hops if h.now is None] == ["not re-sent: the practice's request"]


def test_one_booking_delivered_to_given_services_differs_where_the_fault_was(recorded, lost):
    urls = free_local_urls()
    from harness.stack.embedded import EmbeddedStack

    with EmbeddedStack(urls, data_dir=recorded.parent / "own-data", log_dir=recorded.parent / "own-logs"):
        done = cli("replay", str(recorded), "--ubrn", lost, "--deliver-all", "--json",
                       "--pas-url", urls.pas, "--gp-url", urls.gp)
    assert done.returncode == 1
    doc = orjson.loads(done.stdout)
    assert set(doc["targets"]) == {"pas", "gp"}
    pas = next(h for h in doc["hops"] if h["then"]["link"].startswith("broker->pas:"))
    assert (pas["then"]["outcome"], pas["now"]["outcome"]) == ("timeout", "delivered")
    assert all(h["now"] is None for h in doc["hops"] if h["then"]["link"] == "broker->spine")
    assert any("outcome was 'timeout', now 'delivered'" in d for d in doc["differences"])


def test_a_reliable_run_with_retries_and_reordering_replays_identically(tmp_path):
    from harness.replay.run import replay_run

    _, folder = run(RunOptions(scenario=load_scenario(SCENARIO.with_name("reliable.yaml")), urls=free_local_urls(),
                               runs_dir=tmp_path))
    journal = read_jsonl(folder / "journal.jsonl")
    assert any(e["attempt"] > 1 for e in journal) and any(e["decision"] == "release" for e in journal)
    outcome = replay_run(folder)
    assert outcome.differences == []


def test_a_virtual_clock_run_whose_delays_fill_the_concurrency_replays_identically(tmp_path):
    from harness.replay.run import replay_run

    summary, folder = run(RunOptions(scenario=load_scenario(SCENARIO.with_name("virtual.yaml")),
                                     urls=free_local_urls(), runs_dir=tmp_path))
    journal = read_jsonl(folder / "journal.jsonl")
    delayed = [e for e in journal if e["link"] == "broker->pas:RT4" and e["decision"] == "delay"]
    assert delayed and min(e["latency_ms"] for e in delayed) > 60_000   # simulated minutes, not real ones
    assert summary["clock"]["simulated_s"] > summary["clock"]["real_s"]
    assert any(e["outcome"] != "delivered" for e in journal if e["link"] == "broker->spine")
    outcome = replay_run(folder)
    assert outcome.differences == []
