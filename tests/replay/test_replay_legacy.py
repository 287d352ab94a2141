"""choose-and-book-2006 (fewer bookings) recorded on a real embedded stack with its middleware and legacy
PAS, then replayed: identical, with the middleware's decisions handed to it as a script, its journal and
restarts compared, on free MLLP ports while the default one is taken; a changed middleware decision
is reported; a lost booking's trace ends in the restart that lost it.

One recording serves every test here; each replay starts a fresh stack of six.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from party_common.journal_entries import decisions_from_journal

from harness.replay.run import free_local_urls, free_mllp_port
from harness.run.record import MIDDLEWARE_JOURNAL, MIDDLEWARE_QUEUE, load_run, read_jsonl
from harness.run.runner import RunOptions, run
from harness.scenario.library import library
from harness.scenario.model import Scenario, parse_scenario
from harness.stack.endpoints import DEFAULT_MLLP_PORT

pytestmark = [pytest.mark.slow, pytest.mark.sockets, pytest.mark.timeout(600)]

# About 25 simulated minutes at 100 an hour: the first outage (21 minutes) and the restarts in it.
BOOKINGS = 40


def _scenario() -> Scenario:
    base = next(e.scenario for e in library() if e.name == "choose-and-book-2006")
    data = base.model_dump(by_alias=True, exclude_none=True)
    data["workload"] = {**data["workload"], "bookings": BOOKINGS}
    data.pop("expect", None)   # its bounds are for 200 bookings
    return parse_scenario(data, "choose-and-book-2006 with fewer bookings")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True,
                          timeout=540)


@contextmanager
def default_mllp_port_taken() -> Iterator[None]:
    """The default MLLP port busy, as when a stack is up: taken here, or already by someone else."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", DEFAULT_MLLP_PORT))
            s.listen()
        except OSError:
            pass   # taken already: as good
        yield


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    scenario = _scenario()
    _, folder = run(RunOptions(scenario=scenario, urls=free_local_urls(), runs_dir=tmp_path_factory.mktemp("runs"),
                               mllp_port=free_mllp_port(count=len(scenario.legacy_trusts))))
    return folder


def _lost(folder: Path) -> dict[str, dict]:
    """The bookings a middleware restart lost, by UBRN: each with its restart."""
    return {item["ubrn"]: restart for restart in load_run(folder).middleware_restarts()
            for item in restart["lost"] if item.get("ubrn")}


def _replay(folder: Path, runs: Path) -> tuple[subprocess.CompletedProcess, dict]:
    with default_mllp_port_taken():
        done = cli("replay", str(folder), "--runs-dir", str(runs))
    replay_folder = Path(done.stderr.split("replay folder: ")[1].split()[0])
    return done, orjson.loads((replay_folder / "replay.json").read_bytes())


def test_the_recording_lost_bookings_in_the_middlewares_restarts(recorded):
    lost = _lost(recorded)
    missing = {d["ubrn"] for d in orjson.loads((recorded / "reconciliation.json").read_bytes())["discrepancies"]
               if d["kind"] == "missing_at_pas"}
    assert lost and set(lost) <= missing
    middleware = read_jsonl(recorded / MIDDLEWARE_JOURNAL)
    assert any(e["link"] == "middleware->spine" and e["decision"] == "outage" for e in middleware)


def test_the_replay_is_identical_with_the_middlewares_script_on_free_mllp_ports(recorded, tmp_path):
    done, verdict = _replay(recorded, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert verdict["identical"] is True
    assert verdict["compared"] == ["journal.jsonl", MIDDLEWARE_JOURNAL, f"{MIDDLEWARE_QUEUE} (restarts)",
                                   "reconciliation.json"]
    # The middleware was given its recorded decisions, and each came again on its message.
    scripted = decisions_from_journal(read_jsonl(recorded / MIDDLEWARE_JOURNAL))
    assert {d["link"] for d in scripted} == {"middleware->spine"}
    assert verdict["scripts"]["middleware"]["decisions"] == verdict["scripts"]["middleware"]["used"] == len(scripted)
    assert verdict["scripts"]["broker"]["passed_over"] == 0


def test_a_changed_middleware_decision_is_reported(recorded, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(recorded, tampered, ignore=shutil.ignore_patterns("data", "logs"))
    rows = read_jsonl(tampered / MIDDLEWARE_JOURNAL)
    lost = _lost(recorded)
    victim = next(e for e in rows if e["link"] == "middleware->spine" and e["decision"] == "outage"
                  and e["ubrn"] in lost)
    victim.update(decision="pass", rule_id=None)   # as if the spine had been there for this look-up
    (tampered / MIDDLEWARE_JOURNAL).write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in rows))
    done, verdict = _replay(tampered, tmp_path / "replays")
    assert done.returncode == 1
    assert verdict["identical"] is False
    which = f"middleware journal: middleware->spine patient-read caused by {victim['origin_id']} " \
            f"attempt {victim['attempt']}"
    assert f"{which}: outcome was 'unreachable', now 'delivered'" in verdict["differences"]


def test_a_lost_bookings_trace_goes_through_the_middleware_to_the_restart_that_lost_it(recorded):
    # One that was at the head of the queue, waiting on the spine, when the middleware fell over.
    looked_up = {e["ubrn"] for e in read_jsonl(recorded / MIDDLEWARE_JOURNAL) if e["link"] == "middleware->spine"}
    ubrn, restart = next((u, r) for u, r in _lost(recorded).items() if u in looked_up)
    shown = cli("trace", ubrn, str(recorded), "--json")
    assert shown.returncode == 0, shown.stderr
    doc = orjson.loads(shown.stdout)
    links = [h["link"] for h in doc["hops"]]
    trust_hop = next(h for h in doc["hops"] if h["link"].startswith("broker->pas:"))
    assert (trust_hop["outcome"], trust_hop["status"]) == ("delivered", 200)   # the middleware said yes
    look_ups = [h for h in doc["hops"] if h["link"] == "middleware->spine"]
    assert look_ups and links.index("middleware->spine") > links.index(trust_hop["link"])
    assert {h["decision"] for h in look_ups} == {"outage"}
    assert look_ups[0]["rule"].startswith("outage on middleware->spine")
    assert not any(h["link"].startswith("middleware->pas:") for h in doc["hops"])   # it never left
    assert [(r["at"], r["reason"], r["queue"]) for r in doc["lost_in_restarts"]] == [
        (restart["at"], restart["reason"], "memory")]
    assert [d["kind"] for d in doc["discrepancies"]] == ["missing_at_pas"]
    table = cli("trace", ubrn, str(recorded))
    assert table.returncode == 0 and "restart #" in table.stdout and "lost in the middleware's restart" in table.stdout
    # report.html's trace of it says so too.
    page = (recorded / "report.html").read_text()
    article = page.split(f'<h3>UBRN {ubrn}</h3>', 1)[1].split("</article>", 1)[0]
    assert "Lost in the middleware's restart #" in article
