"""The stack in containers: images built, docker-compose up, a scenario from the host, the spine
vanishing in the middle of it, the PAS restarted, down -v.

Needs a Docker engine that answers and a compose tool (`docker compose` or `docker-compose`, or the
command in TESTBED_COMPOSE); skips otherwise. Deselect with `-m 'not compose'`.
Base images: TESTBED_COMPOSE_BASE=public uses python:3.11-slim and postgres:16 (pulled when
missing); `local` builds them from Debian packages with docker/build-base-images.sh (root, once per
machine). The default is `public` when both public images are already present, else `local`.
See docs/compose.md.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.compose

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("spine-vanishes.yaml")
TEST_IMAGE = "testbed/party:compose-test"
PUBLIC = {"BASE_IMAGE": "python:3.11-slim", "POSTGRES_IMAGE": "postgres:16"}
LOCAL = {"BASE_IMAGE": "testbed/base-python:bookworm", "POSTGRES_IMAGE": "testbed/postgres:bookworm"}
SERVICES = ("postgres", "spine", "pas", "gp", "broker", "middleware", "legacy-pas")
# How long the services may take to become healthy before the test gives up; the time taken is printed,
# not judged (a loaded 2-core machine took 81 s where an idle one takes 15-25 s).
BRING_UP_LIMIT_S = 240.0
PARTY_PREFIXES = ("SPINE_", "PAS_", "GP_", "BROKER_")


def _ok(*cmd: str, timeout: float = 30) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _compose_tool() -> list[str] | None:
    """As docker/compose.sh picks it: TESTBED_COMPOSE, else `docker compose`, else `docker-compose`."""
    if os.environ.get("TESTBED_COMPOSE"):
        return shlex.split(os.environ["TESTBED_COMPOSE"])
    if _ok("docker", "compose", "version"):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _image_exists(name: str) -> bool:
    return _ok("docker", "image", "inspect", name)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run(cmd: list[str], *, env: dict | None = None, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def compose_tool() -> list[str]:
    if not _ok("docker", "info"):
        pytest.skip("no Docker engine answers (docker info failed)")
    tool = _compose_tool()
    if tool is None:
        pytest.skip("neither 'docker compose' nor 'docker-compose' is installed")
    return tool


@pytest.fixture(scope="module")
def images(compose_tool) -> dict:
    """Builds what is missing (the base images once per machine) and the party image from this tree."""
    timings: dict[str, str] = {}
    mode = os.environ.get("TESTBED_COMPOSE_BASE") or (
        "public" if all(_image_exists(i) for i in PUBLIC.values()) else "local")
    chosen = PUBLIC if mode == "public" else LOCAL
    if mode == "local":
        if all(_image_exists(i) for i in LOCAL.values()):
            timings["base images"] = "present"
        else:
            if os.geteuid() != 0:
                pytest.skip("the local base images are missing and building them (debootstrap) needs root")
            start = time.monotonic()
            _run(["bash", "docker/build-base-images.sh"], timeout=1200)
            timings["base images"] = f"built in {time.monotonic() - start:.0f}s"
    env = {**os.environ, "BASE_IMAGE": chosen["BASE_IMAGE"], "TESTBED_IMAGE": TEST_IMAGE}
    start = time.monotonic()
    _run(["bash", "docker/build-images.sh"], env=env, timeout=1200)
    timings["party image"] = f"built in {time.monotonic() - start:.0f}s"
    return {"mode": mode, "POSTGRES_IMAGE": chosen["POSTGRES_IMAGE"], "timings": timings}


class Stack:
    def __init__(self, tool: list[str], images: dict):
        self.project = f"tbcompose{os.getpid()}"
        free = _free_ports(7)
        self.ports = dict(zip(("broker", "spine", "pas", "gp", "middleware", "legacy_pas"), free))
        self.mllp_port = free[-1]
        # A developer's shell may hold party settings for the embedded stack: they are not this stack's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(PARTY_PREFIXES)}
        env.update({
            "TESTBED_IMAGE": TEST_IMAGE,
            "POSTGRES_IMAGE": images["POSTGRES_IMAGE"],
            "TESTBED_BIND": "127.0.0.1",
            "TESTBED_LOG_LEVEL": "WARNING",
            # The parties require it on control endpoints; the harness below sends it from this env.
            "TESTBED_CONTROL_TOKEN": f"compose-test-{os.getpid()}",
            **{f"TESTBED_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            "TESTBED_MLLP_PORT": str(self.mllp_port),
        })
        self.env = env
        self.base = [*tool, "-f", str(ROOT / "docker-compose.yml"), "-p", self.project]

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        return _run([*self.base, *args], env=self.env, timeout=timeout, check=check)

    def url(self, party: str) -> str:
        return f"http://127.0.0.1:{self.ports[party]}"

    def port_args(self) -> list[str]:
        return ["--host", "127.0.0.1", *(a for name, port in self.ports.items()
                                         for a in (f"--{name.replace('_', '-')}-port", str(port)))]

    def health(self) -> dict[str, str]:
        """Health of each service's container (by the labels both compose tools set), in one inspect."""
        ids = _run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"],
                   check=False).stdout.split()
        out = {service: "absent" for service in SERVICES}
        if ids:
            fmt = ('{{index .Config.Labels "com.docker.compose.service"}} '
                   '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}')
            for line in _run(["docker", "inspect", "-f", fmt, *ids], check=False).stdout.splitlines():
                service, _, state = line.partition(" ")
                out[service] = state
        return out

    def wait_healthy(self, services: tuple[str, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if all(health[s] == "healthy" for s in services):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {timeout:.0f}s: {health}\n{self.logs()}")
            time.sleep(0.25)

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "30", check=False).stdout[-6000:]


@pytest.fixture
def stack(compose_tool, images):
    s = Stack(compose_tool, images)
    try:
        yield s
    finally:
        s.compose("down", "-v", "--remove-orphans", "-t", "5", timeout=180, check=False)


def _links(stack: Stack) -> dict:
    return httpx.get(f"{stack.url('broker')}/links", timeout=10).json().get("links", {})


def _ubrns_allocated(stack: Stack) -> int:
    return _links(stack).get("broker->spine", {}).get("events", {}).get("allocate-ubrn", {}).get("delivered", 0)


def _trust_appointments(stack: Stack) -> dict[str, int]:
    """Appointments each trust holds, as its PAS tells anyone who asks (the published port)."""
    orgs = httpx.get(f"{stack.url('pas')}/Organization", timeout=10).json()
    counts = {}
    for entry in orgs.get("entry", []):
        if entry["resource"]["resourceType"] != "Organization":  # the trusts' sites come along
            continue
        ods = entry["resource"]["id"]
        r = httpx.get(f"{stack.url('pas')}/{ods}/Appointment", params={"_count": 1}, timeout=10)
        assert r.status_code == 200 and "total" in r.json(), f"{r.request.url}: {r.status_code} {r.text[:500]}"
        counts[ods] = r.json()["total"]
    return counts


def _wait_answers(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout:.0f}s"
        time.sleep(0.05)


# Its first run builds the images (about five minutes, longer on a busy machine) before a 2,000-booking
# scenario; the suite's 300 s would cut it short.
@pytest.mark.timeout(2400)
def test_stack_in_containers_survives_the_spine_vanishing_and_a_pas_restart(stack: Stack, images, capsys, tmp_path):
    timings = dict(images["timings"])

    # Bring-up: from `up` to every service healthy, images already built.
    start = time.monotonic()
    stack.compose("up", "-d", "--no-build", timeout=180)
    stack.wait_healthy(SERVICES, BRING_UP_LIMIT_S)
    bring_up = time.monotonic() - start
    timings["bring-up to all healthy"] = f"{bring_up:.1f}s"
    with capsys.disabled():
        print(f"\n[compose] {images['mode']} base images; " + "; ".join(f"{k}: {v}" for k, v in timings.items()))
    # Compose gives the control endpoints a token: a fault plan cannot be set without it.
    refused = httpx.put(f"{stack.url('broker')}/faults", json={"seed": 1, "rules": []}, timeout=10)
    assert refused.status_code == 401, refused.text

    # The harness container: `testbed` starts in the image (contracts/ and all) and drives the stack on
    # the published ports, then judges its run folder in the harness-runs volume, with no stack asked.
    start = time.monotonic()
    harness = stack.compose("--profile", "harness", "run", "--rm", "harness", "testbed", "run", "--bookings", "50")
    in_container = time.monotonic() - start
    assert "attempted" in harness.stdout and "external stack" in harness.stdout, harness.stdout
    counts = {row.split("│")[1].strip(): row.split("│")[2].strip() for row in harness.stdout.splitlines()
              if row.count("│") == 3}
    assert counts["attempted"] == counts["accepted"] == counts["confirmed at gp"] == "50", harness.stdout
    folder = next(line.split(":", 1)[1].strip() for line in harness.stderr.splitlines()
                  if line.startswith("run folder:"))
    judged = stack.compose("--profile", "harness", "run", "--rm", "harness", "testbed", "check", "--run", folder,
                           "--max-error-rate", "0")
    assert "0 of 50 bookings disagree" in judged.stdout, judged.stdout + judged.stderr

    # The workload from the host against the published ports, in a subprocess so the spine can be
    # stopped while it runs.
    scenario = yaml.safe_load(SCENARIO.read_text())
    bookings = scenario["workload"]["bookings"]
    concurrency = scenario["workload"]["concurrency"]
    allocated_before = _ubrns_allocated(stack)
    run = subprocess.Popen(
        [sys.executable, "-m", "harness.cli.main", "run", "--scenario", str(SCENARIO), "--json",
         "--runs-dir", str(tmp_path / "runs"), *stack.port_args()],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=stack.env)
    try:
        # The spine vanishes early in the run. While it is away the GP system refuses new referrals
        # at once (it cannot check the NHS number), so the queue runs down fast during the outage:
        # the run is long enough to leave many bookings for after the spine's return.
        deadline = time.monotonic() + 180
        while _ubrns_allocated(stack) - allocated_before < max(50, bookings // 20):
            assert run.poll() is None, f"the run ended before the spine was stopped: {run.communicate()}"
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.1)
        stopped = time.monotonic()
        stack.compose("stop", "-t", "1", "spine")
        stack.compose("start", "spine")
        _wait_answers(f"{stack.url('spine')}/health", 60)
        outage = time.monotonic() - stopped
        allocated_when_back = _ubrns_allocated(stack) - allocated_before
        assert run.poll() is None, "the run ended while the spine was away: the outage was not mid-run"
        stack.wait_healthy(("spine",), 60)
        out, err = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, f"testbed run exited {run.returncode}: {err[-3000:]}"
    summary = json.loads(out)
    assert summary["run"]["stack"] == "external"
    assert summary["bookings"]["attempted"] == bookings
    rows = [json.loads(line) for line in (Path(summary["run"]["folder"]) / "bookings.jsonl").read_text().splitlines()]
    failed = [r for r in rows if r["outcome"] != "accepted"]

    # The run felt the spine vanish: the broker found it unreachable, or practices could not check
    # NHS numbers with it.
    spine_link = summary["links"].get("broker->spine", {}).get("outcomes", {})
    felt = sum(v for k, v in spine_link.items() if k != "delivered") + sum("spine" in (r["detail"] or "") for r in failed)
    assert felt > 0, (spine_link, failed[:3])

    # Bookings started after the spine came back all succeeded. The queue hands out bookings in index
    # order with `concurrency` in flight, so a booking with index >= (completed when the spine was
    # back) + concurrency started after it; completed then <= UBRNs allocated by then + every failure.
    after = [r for r in rows if r["index"] >= allocated_when_back + len(failed) + concurrency]
    assert len(after) >= 100, (
        f"only {len(after)} bookings started after the spine came back ({len(failed)} failed); make the run longer")
    assert all(r["outcome"] == "accepted" for r in after), [
        (r["index"], r["outcome"], r["detail"]) for r in after if r["outcome"] != "accepted"][:5]

    # The PAS restarts: no appointment is lost.
    before = _trust_appointments(stack)
    assert sum(before.values()) > 0
    stack.compose("restart", "-t", "5", "pas")
    stack.wait_healthy(("pas",), 60)
    after_restart = _trust_appointments(stack)
    assert after_restart == before

    # The run's folder, reconciled again from what it captured: the run's own answer.
    rec = _run([sys.executable, "-m", "harness.cli.main", "reconcile", "--json", "--run", summary["run"]["folder"]],
               timeout=300, check=False, env=stack.env)
    assert rec.returncode == 0, f"testbed reconcile exited {rec.returncode}: {rec.stderr[-2000:]}"
    doc = json.loads(rec.stdout)
    assert doc["disagreeing"] == summary["reconciliation"]["disagreeing"]
    reconciled = f"{doc['disagreeing']} of {doc['attempted']} disagree"

    with capsys.disabled():
        b = summary["bookings"]
        print(f"[compose] harness container: testbed run --bookings 50 in {in_container:.0f}s, all accepted; "
              f"run: {b} in {summary['duration_s']}s; spine away {outage:.1f}s, "
              f"{len(after)} bookings after it came back all accepted; trust appointments {sum(before.values())} "
              f"before and after the PAS restart; reconcile: {reconciled}")
