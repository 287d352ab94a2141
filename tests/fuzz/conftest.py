"""The stack the fuzzers run against: the four parties as uvicorn processes on loopback, as `testbed up`
runs them, so a dropped connection is seen as one and a party's crash cannot take the test with it.

One stack for the package: starting it is most of the fixed cost. What a fuzzer sends can change its
state (a mutated message may still book), which the other fuzzers must survive anyway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import StackUrls
from tests.e2e.test_sockets import _free_ports

# Schemathesis's fuzzing examples per operation (test_body_mutation.py reads FUZZ_MUTATIONS); CI runs
# the defaults, FUZZ_EXAMPLES=100 (say) a longer search by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or None
SEED = int(os.environ.get("FUZZ_SEED", "20260105"))

PARTIES = ("broker", "spine", "pas", "gp")
# The FHIR base of each party: the PAS and the GP system serve one per trust and practice.
TRUST, PRACTICE = "RT1", "Y90001"


@dataclass(frozen=True)
class FuzzStack:
    urls: StackUrls
    log_dir: Path

    def url(self, party: str) -> str:
        return getattr(self.urls, party)

    def base(self, party: str) -> str:
        """The party's FHIR base: where its CapabilityStatement and $process-message are."""
        return self.url(party) + {"pas": f"/{TRUST}", "gp": f"/{PRACTICE}"}.get(party, "")

    def log_tail(self, party: str, chars: int = 6000) -> str:
        """The party's last logged error (a 500's traceback), else the end of its log."""
        path = self.log_dir / f"{party}.log"
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        errors = [line for line in lines if '"level":"error"' in line or "Traceback" in line]
        return (errors[-1] if errors else "\n".join(lines[-20:]))[-chars:]

    def unhealthy(self) -> dict[str, str]:
        """party -> what is wrong with its /health (empty when all are ok)."""
        out = {}
        for party in PARTIES:
            try:
                r = httpx.get(f"{self.url(party)}/health", timeout=10)
                if r.status_code != 200 or r.json().get("status") != "ok":
                    out[party] = f"{r.status_code} {r.text[:300]}"
            except (httpx.HTTPError, ValueError) as exc:
                out[party] = repr(exc)
        return out


@pytest.fixture(scope="package")
def fuzz_stack(tmp_path_factory) -> FuzzStack:
    tmp = tmp_path_factory.mktemp("fuzz")
    urls = StackUrls.local(ports=dict(zip(PARTIES, _free_ports(4))))
    # No control token: the fuzzers reach the control endpoints as a harness without one would.
    env = {"TESTBED_CONTROL_TOKEN": ""}
    with EmbeddedStack(urls, data_dir=tmp / "data", log_dir=tmp / "logs", extra_env=env):
        yield FuzzStack(urls, tmp / "logs")
