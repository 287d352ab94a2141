"""Over real sockets: `testbed up` in one process, `testbed run` against it from another."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.sockets
REPO = Path(__file__).resolve().parents[2]


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _port_args(ports: list[int]) -> list[str]:
    return ["--broker-port", str(ports[0]), "--spine-port", str(ports[1]),
            "--pas-port", str(ports[2]), "--gp-port", str(ports[3])]


def _testbed(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli.main", *args]


@contextmanager
def running_stack(data_dir: Path, ports: list[int], timeout: float = 90) -> Iterator[subprocess.Popen]:
    """`testbed up` on `ports`, entered once every party answers /health; Ctrl-C when the block ends."""
    up = subprocess.Popen(_testbed("up", "--data-dir", str(data_dir), *_port_args(ports)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(httpx.get(f"http://127.0.0.1:{p}/health", timeout=1).status_code == 200 for p in ports):
                    break
            except httpx.HTTPError:
                pass
            assert up.poll() is None and time.monotonic() < deadline, "testbed up did not come up"
            time.sleep(0.2)
        yield up
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=30)


def test_up_then_run_against_it_then_ctrl_c(tmp_path: Path):
    ports = _free_ports(4)
    data = tmp_path / "stack"
    up = subprocess.Popen(_testbed("up", "--data-dir", str(data), *_port_args(ports)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if all(httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()["status"] == "ok"
                       for port in ports):
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("testbed up did not come up")

        done = subprocess.run(_testbed("run", "--bookings", "25", "--seed", "5", "--json", "--runs-dir",
                                       str(tmp_path / "runs"), *_port_args(ports)),
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["run"]["stack"] == "external"
        assert summary["bookings"]["attempted"] == 25
        assert summary["bookings"]["accepted"] == 25
        assert summary["bookings"]["confirmed_at_gp"] == 25
        assert summary["latency_ms"]["p50"] > 0
        assert summary["links"]["broker->spine"]["attempts"] == 50
        folder = Path(summary["run"]["folder"])
        assert (folder / "summary.json").is_file()
        assert len((folder / "bookings.jsonl").read_text().splitlines()) == 25

        # One booking's correlation id (bookings.jsonl names it) is on log lines of all four parties.
        corr = json.loads((folder / "bookings.jsonl").read_text().splitlines()[7])["correlation_id"]
        time.sleep(0.5)
        parties = set()
        for log in (data / "logs").glob("*.log"):
            for line in log.read_text().splitlines():
                if corr in line:
                    parties.add(json.loads(line)["party"])
        assert parties == {"booking_broker", "spine_mock", "trust_pas", "gp_system"}

        # The fault rules of the running broker, from the command line.
        broker = ["--broker-url", f"http://127.0.0.1:{ports[0]}"]
        added = subprocess.run(_testbed("faults", "add", "--link", "broker->pas:*", "--action", "delay",
                                        "--param", "ms=1", "--every", "1/2", *broker),
                               capture_output=True, text=True, timeout=30)
        assert added.returncode == 0, added.stderr
        rule = json.loads(added.stdout)
        assert rule["every"] == {"k": 1, "n": 2} and rule["params"] == {"ms": 1}
        listed = json.loads(subprocess.run(_testbed("faults", "list", *broker), capture_output=True,
                                           text=True, timeout=30).stdout)
        assert [r["id"] for r in listed["rules"]] == [rule["id"]]
        bad = subprocess.run(_testbed("faults", "add", "--link", "x", "--action", "explode", *broker),
                             capture_output=True, text=True, timeout=30)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown action" in bad.stderr
        removed = subprocess.run(_testbed("faults", "remove", rule["id"], *broker), capture_output=True,
                                 text=True, timeout=30)
        assert removed.returncode == 0 and json.loads(removed.stdout)["rules"] == []
        assert subprocess.run(_testbed("faults", "reset", "--seed", "4", *broker), capture_output=True,
                              timeout=30).returncode == 0

        # A scenario against the running stack: its faults are set over HTTP and journaled.
        # Its expect: block is calibrated for the scenario's own workload, not for 40 bookings on a used stack.
        scenario = yaml.safe_load((REPO / "scenarios" / "dropped-booking-messages.yaml").read_text())
        scenario.pop("expect")
        (tmp_path / "c-and-b.json").write_text(json.dumps(scenario))
        scen = subprocess.run(_testbed("run", "--scenario", str(tmp_path / "c-and-b.json"),
                                       "--bookings", "40", "--json", "--runs-dir", str(tmp_path / "runs"),
                                       *_port_args(ports)), capture_output=True, text=True, timeout=180)
        assert scen.returncode == 0, scen.stderr
        summary = json.loads(scen.stdout)
        assert summary["run"]["scenario"] == "dropped-booking-messages" and summary["run"]["seed"] == 7
        journal = [json.loads(line) for line in
                   (Path(summary["run"]["folder"]) / "journal.jsonl").read_text().splitlines()]
        drops = [e for e in journal if e["decision"] == "drop"]
        assert 5 < len(drops) < 40 and all(e["link"].startswith("broker->pas:") for e in drops)
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=30)
    assert up.returncode == 0, err
    assert "testbed is up" in out
    for port in ports:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_run_starts_and_stops_its_own_embedded_stack(tmp_path: Path):
    ports = _free_ports(4)
    done = subprocess.run(_testbed("run", "--bookings", "10", "--seed", "9", "--json", "--runs-dir",
                                   str(tmp_path / "runs"), *_port_args(ports)),
                          capture_output=True, text=True, timeout=180, env={**os.environ})
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["run"]["stack"] == "embedded"
    assert summary["bookings"]["accepted"] == 10
    folder = Path(summary["run"]["folder"])
    assert {p.name for p in (folder / "logs").glob("*.log")} == {"broker.log", "spine.log", "pas.log", "gp.log"}
    for port in ports:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_cli_errors_are_one_line(tmp_path: Path):
    bad = subprocess.run(_testbed("run", "--bookings", "0"), capture_output=True, text=True)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("testbed: error:")
    ports = _free_ports(4)
    # A port held by something that is not a stack: the run says so in one line.
    holder = socket.socket()
    holder.bind(("127.0.0.1", ports[1]))
    holder.listen()
    try:
        busy = subprocess.run(_testbed("run", "--bookings", "1", "--runs-dir", str(tmp_path), *_port_args(ports)),
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert busy.returncode == 1
    assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
    assert "testbed: error:" in busy.stderr
