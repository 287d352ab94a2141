"""`testbed` finds the parties on the ports docker-compose.yml publishes them on (TESTBED_*_PORT), as
the harness container does; an explicit --*-port wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_sockets import _free_ports

REPO = Path(__file__).resolve().parents[2]


def _reconcile(*args: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESTBED_") or not k.endswith("_PORT")}
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "reconcile", "--settle", "0", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env={**environ, **env})
    assert done.returncode == 3, done.stderr   # nothing listens there: which port it tried is the point
    return done.stderr


def test_ports_come_from_the_compose_variables_unless_given():
    broker, spine, pas, gp, other = _free_ports(5)
    env = {"TESTBED_BROKER_PORT": str(broker), "TESTBED_SPINE_PORT": str(spine), "TESTBED_PAS_PORT": str(pas),
           "TESTBED_GP_PORT": str(gp)}
    assert f"the broker at http://127.0.0.1:{broker}/" in _reconcile(**env)
    assert f"the broker at http://127.0.0.1:{other}/" in _reconcile("--broker-port", str(other), **env)
