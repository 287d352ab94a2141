"""A stack over real sockets, with bookings in it, for the FHIR client tests.

`testbed up` in a child process on free ports, then a small `testbed run` against it, so every
party holds appointments (and the PAS claimed slots) when fhirpy and fhirclient come to read them.
One stack serves the whole package: starting it is most of the cost.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.sockets

BOOKINGS = 30


@dataclass(frozen=True)
class Stack:
    broker: str
    spine: str
    pas: str
    gp: str
    run_folder: Path

    def bookings(self) -> list[dict]:
        return [json.loads(line) for line in (self.run_folder / "bookings.jsonl").read_text().splitlines()]


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


def _testbed(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli.main", *args]


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Stack:
    tmp = tmp_path_factory.mktemp("fhir-clients")
    ports = _free_ports(4)
    port_args = ["--broker-port", str(ports[0]), "--spine-port", str(ports[1]),
                 "--pas-port", str(ports[2]), "--gp-port", str(ports[3])]
    up = subprocess.Popen(_testbed("up", "--data-dir", str(tmp / "stack"), *port_args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if all(httpx.get(f"http://127.0.0.1:{p}/health", timeout=2).json()["status"] == "ok" for p in ports):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or up.poll() is not None:
                pytest.fail(f"testbed up did not come up: {up.poll()}")
            time.sleep(0.2)
        done = subprocess.run(_testbed("run", "--bookings", str(BOOKINGS), "--seed", "3", "--json",
                                       "--runs-dir", str(tmp / "runs"), *port_args),
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr
        folder = Path(json.loads(done.stdout)["run"]["folder"])
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        yield Stack(*urls, run_folder=folder)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
