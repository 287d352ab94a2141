"""`testbed contract verify` over real sockets: the whole suite against the embedded stack, as CI runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import uvicorn

from trust_pas.app import create_app as pas_app
from trust_pas.settings import Settings as PasSettings

from .breakers import BREAKERS, Broken

from contracts import pacts
from contracts.suite import PROVIDERS, Target, checks_for, run_suite
from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import StackUrls
from tests.e2e.test_sockets import _free_ports

REPO = Path(__file__).resolve().parents[2]


def _testbed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> StackUrls:
    """The four parties as uvicorn processes on free loopback ports, as `testbed up` runs them."""
    tmp = tmp_path_factory.mktemp("embedded")
    urls = StackUrls.local(ports=dict(zip(("broker", "spine", "pas", "gp"), _free_ports(4))))
    with EmbeddedStack(urls, data_dir=tmp / "data", log_dir=tmp / "logs"):
        yield urls


@pytest.mark.sockets
def test_whole_contract_suite_passes_against_the_embedded_stack(embedded: StackUrls, tmp_path: Path):
    urls = embedded
    for provider in PROVIDERS:
        junit = tmp_path / f"{provider}.xml"
        done = _testbed("contract", "verify", "--provider", provider, "--base-url", getattr(urls, provider),
                        "--junit", str(junit))
        assert done.returncode == 0, done.stdout + done.stderr
        lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS ", "FAIL "))]
        ids = [c.id for c in checks_for(provider)]
        assert [line.split()[1] for line in lines] == ids
        assert all(line.startswith("PASS ") for line in lines)
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite.get("tests") == str(len(ids)) and suite.get("failures") == "0"
        assert [case.get("name") for case in suite.iter("testcase")] == ids

    # The suites cancelled what they booked and marked it as theirs: reconciling the same stack finds
    # nothing amiss (not one `missing_at_broker` per test booking) and says what it left out.
    done = _testbed("reconcile", "--json", "--settle", "10",
                    *(arg for party in PROVIDERS for arg in (f"--{party}-url", getattr(urls, party))))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["disagreeing"] == 0, doc["discrepancies"][:5]
    set_aside = [n for n in doc["notes"] if "the contract suites made and cancelled again" in n]
    assert set_aside and int(set_aside[0].split()[0]) >= 10, doc["notes"]


@pytest.mark.sockets
def test_every_pact_verifies_against_its_provider_in_the_embedded_stack(embedded: StackUrls):
    for consumer, provider in pacts.PAIRS:
        pacts.verify_pact(pacts.pact_path(consumer, provider), getattr(embedded, pacts.PROVIDER_OF[provider]))


def test_an_unreachable_base_url_is_one_line_and_exit_3(tmp_path: Path):
    port = _free_ports(1)[0]
    done = _testbed("contract", "verify", "--provider", "pas", "--base-url", f"http://127.0.0.1:{port}",
                    "--junit", str(tmp_path / "out.xml"))
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("testbed: error: ")
    assert "unreachable" in done.stderr


def test_usage_errors_are_one_line():
    done = _testbed("contract", "verify", "--provider", "lab", "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2 and done.stderr.startswith("testbed: error: --provider must be one of")
    done = _testbed("contract", "verify", "--provider", "pas", "--base-url", "http://127.0.0.1:9", "--only", "x.*")
    assert done.returncode == 2 and "matches no pas check" in done.stderr


@pytest.mark.sockets
def test_a_broken_pas_fails_its_check_in_the_output_the_exit_code_the_junit_and_the_pact(tmp_path: Path):
    port = _free_ports(1)[0]
    app = pas_app(PasSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/pas.db", log_level="WARNING"))
    server = uvicorn.Server(uvicorn.Config(Broken(app, BREAKERS["drops-response-identifier"]), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        junit = tmp_path / "pas.xml"
        done = _testbed("contract", "verify", "--provider", "pas", "--base-url", f"http://127.0.0.1:{port}",
                        "--ods", "RT2", "--only", "pas.booking-*", "--only", "pas.capability", "--junit", str(junit))
        # The broker's pact with the PAS relies on MessageHeader.response.identifier too.
        with pytest.raises(Exception, match="(?i)fail|mismatch"):
            pacts.verify_pact(pacts.pact_path(pacts.BROKER, pacts.PAS), f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("FAIL pas.booking-accepted ") and "response-identifier" in line for line in lines)
    assert any(line.startswith("PASS pas.capability ") for line in lines)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["pas.booking-accepted"].find("failure") is not None
    assert cases["pas.capability"].find("failure") is None


async def test_a_server_that_is_not_fhir_fails_every_check_without_a_traceback():
    """Something answers at the URL, but not FHIR: every check fails with a reason; nothing crashes."""
    def not_fhir(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>It works!</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(not_fhir)) as client:
        results = await run_suite(Target("pas", "http://not-fhir.test", client))
    assert results and all(not r.passed and r.reason for r in results)
