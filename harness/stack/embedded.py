"""The embedded stack: the four parties as local uvicorn processes on loopback, SQLite files, no Docker;
and, for a stack with legacy trusts, the trust's middleware and its legacy PAS (docs/legacy-pas.md).

Separate processes rather than one event loop, so the parties use both cores and a crash or a
stop of one looks to the others exactly as it would over a network.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import json

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from harness.cli.errors import TestbedError
from party_common.trust_catalogue import DEFAULT_TRUSTS

from harness.stack.endpoints import DEFAULT_MLLP_PORT, StackUrls, mllp_ports


class StackError(TestbedError, RuntimeError):
    """The stack could not be started; the message is one line for the user."""


@dataclass
class PartySpec:
    name: str          # the name users see: broker, spine, pas, gp, middleware, legacy_pas
    package: str       # the Python package with app.create_app
    env_prefix: str


PARTIES = [
    PartySpec("spine", "spine_mock", "SPINE_"),
    PartySpec("pas", "trust_pas", "PAS_"),
    PartySpec("gp", "gp_system", "GP_"),
    PartySpec("broker", "booking_broker", "BROKER_"),
]
# Started only for a stack with legacy trusts; before the broker, which discovers their trusts.
LEGACY_PARTIES = [
    PartySpec("legacy_pas", "legacy_pas", "LEGACY_PAS_"),
    PartySpec("middleware", "middleware", "MIDDLEWARE_"),
]
ALL_PARTIES = [*PARTIES, *LEGACY_PARTIES]


def trusts_json(codes: list[str]) -> str:
    """A trust catalogue (the shape of PAS_TRUSTS) holding the trusts `codes`, in catalogue order."""
    return json.dumps([t for t in DEFAULT_TRUSTS if t["ods"] in codes])


def _port(url: str) -> int:
    return httpx.URL(url).port or 80


@dataclass
class EmbeddedStack:
    urls: StackUrls
    data_dir: Path
    log_dir: Path
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 60.0
    # Trusts whose PAS is the legacy PAS behind the middleware: with any, both are started too.
    legacy_trusts: list[str] = field(default_factory=list)
    mllp_port: int = DEFAULT_MLLP_PORT     # the legacy PAS's MLLP port for the first legacy trust
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.legacy_trusts and not self.urls.has_legacy:
            self.urls = self.urls.with_legacy()

    @property
    def parties(self) -> list[PartySpec]:
        """The parties this stack runs, in the order they start (the broker last)."""
        if not self.legacy_trusts:
            return list(PARTIES)
        return [*PARTIES[:-1], *LEGACY_PARTIES, PARTIES[-1]]

    @property
    def mllp(self) -> dict[str, int]:
        return mllp_ports(self.legacy_trusts, self.mllp_port)

    def party_env(self, spec: PartySpec) -> dict[str, str]:
        u = self.urls
        p = spec.env_prefix
        env = {
            f"{p}PORT": str(_port(getattr(u, spec.name))),
            f"{p}HOST": self.host,
            f"{p}DATABASE_URL": f"sqlite+aiosqlite:///{self.data_dir / spec.package}.db",
            f"{p}PUBLIC_URL": getattr(u, spec.name),
            f"{p}SPINE_URL": u.spine,
            f"{p}BROKER_URL": u.broker,
            f"{p}PAS_URL": u.pas,
            f"{p}GP_URL": u.gp,
        }
        if self.legacy_trusts:
            env.update(self._legacy_env(spec))
        return env

    def _legacy_env(self, spec: PartySpec) -> dict[str, str]:
        """Who keeps which trust: the FHIR PAS all but the legacy trusts, the legacy PAS and the
        middleware those, the broker finding them at the middleware (a run's scenario may narrow
        PAS_TRUSTS further through `extra_env`)."""
        legacy = self.legacy_trusts
        if spec.name == "pas":
            return {"PAS_TRUSTS": trusts_json([t["ods"] for t in DEFAULT_TRUSTS if t["ods"] not in legacy])}
        if spec.name == "legacy_pas":
            return {"LEGACY_PAS_TRUSTS": trusts_json(legacy), "LEGACY_PAS_MLLP_HOST": self.host,
                    "LEGACY_PAS_MLLP_PORTS": json.dumps(self.mllp)}
        if spec.name == "middleware":
            return {"MIDDLEWARE_TRUSTS": trusts_json(legacy),
                    "MIDDLEWARE_PAS_MLLP": json.dumps({ods: f"{self.host}:{port}" for ods, port in self.mllp.items()})}
        if spec.name == "broker":
            return {"BROKER_TRUST_ROOTS": json.dumps([self.urls.middleware])}
        return {}

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.parties:
            self._refuse_busy_port(_port(getattr(self.urls, spec.name)), spec.name)
        for ods, port in self.mllp.items():
            self._refuse_busy_port(port, f"legacy PAS's MLLP listener of {ods}")
        try:
            for spec in self.parties:
                self.spawn(spec.name)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def spawn(self, name: str) -> subprocess.Popen:
        """Starts one party's process (again, after a crash test killed it: same port, same database),
        without waiting for it to be healthy."""
        spec = next(s for s in self.parties if s.name == name)
        env = {**os.environ, **self.party_env(spec), **self.extra_env}
        cmd = [sys.executable, "-m", "uvicorn", "--factory", f"{spec.package}.app:create_app",
               "--host", self.host, "--port", str(_port(getattr(self.urls, spec.name))),
               "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"]
        with open(self.log_dir / f"{spec.name}.log", "ab") as log:
            proc = self.processes[spec.name] = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return proc

    def _refuse_busy_port(self, port: int, name: str) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind((self.host, port))
            except OSError:
                raise StackError(f"port {port} for the {name} is already in use (is a stack already up?)") from None

    def _probe(self, name: str) -> None:
        """One health check of a party being started; StackError if its process has ended."""
        proc = self.processes[name]
        if proc.poll() is not None:
            raise StackError(f"the {name} exited during start-up with code {proc.returncode};"
                             f" see {self.log_dir / (name + '.log')}")
        httpx.get(f"{getattr(self.urls, name)}/health", timeout=2).raise_for_status()

    def wait_healthy(self, names: list[str] | None = None) -> None:
        """Waits for every party's `/health` (or only those `names`d): StackError if one exits or is late."""
        deadline = self.startup_timeout
        for spec in self.parties:
            if names is not None and spec.name not in names:
                continue
            try:
                for attempt in Retrying(stop=stop_after_delay(deadline), wait=wait_fixed(0.1), reraise=True,
                                        retry=retry_if_exception_type(httpx.HTTPError)):
                    with attempt:
                        self._probe(spec.name)
            except httpx.HTTPError as exc:
                raise StackError(f"the {spec.name} did not become healthy in {deadline:.0f}s ({exc})") from exc

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 10
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def __enter__(self) -> "EmbeddedStack":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
