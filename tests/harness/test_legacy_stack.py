"""A scenario's legacy trusts (docs/legacy-pas.md): validated like every section, and the stack it
starts: the middleware and legacy PAS only then, each party given the settings that divide the trusts
between the FHIR PAS and the legacy PAS, and their clocks moved with the others'."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.run.clock_driver import ClockDriver
from harness.run.runner import clock_env, receiver_env, urls_for
from harness.scenario.model import ScenarioError, parse_scenario
from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import DEFAULT_PORTS, StackUrls

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]

LEGACY = {"population": {"trusts": ["RT1", "RT2", "RT4"]},
          "legacy": {"trusts": ["RT4"],
                     "middleware": {"queue": "persistent", "spine_lookup": True, "crash_after_spine_failures": 1,
                                    "restart_s": 30, "ack_timeout_s": 5, "resends": 2},
                     "pas": {"ack_delay_ms": 250}}}


@pytest.mark.parametrize("legacy, message", [
    ({"trusts": ["RT9"]}, "legacy.trusts[0]: unknown trust 'RT9' (known: RT1, RT2, RT3, RT4)"),
    ({"trusts": ["RT4", "RT4"]}, "legacy.trusts[1]: trust 'RT4' listed twice"),
    ({"trusts": []}, "legacy.trusts: List should have at least 1 item"),
    ({"trusts": ["RT3"]}, "legacy.trusts[0]: legacy trust 'RT3' is not one of population.trusts (RT1, RT2, RT4)"),
    ({"trusts": ["RT4"], "middleware": {"queue": "disk"}}, "legacy.middleware.queue: Input should be 'memory' or"),
    ({"trusts": ["RT4"], "middleware": {"resends": -1}}, "legacy.middleware.resends: Input should be greater"),
    ({"trusts": ["RT4"], "middleware": {"ack_timeout_s": 0}}, "legacy.middleware.ack_timeout_s: Input should be"),
    ({"trusts": ["RT4"], "middleware": {"crash_after": 1}}, "legacy.middleware.crash_after: Extra inputs"),
    ({"trusts": ["RT4"], "pas": {"ack_delay_ms": -5}}, "legacy.pas.ack_delay_ms: Input should be greater"),
])
def test_a_bad_legacy_section_is_one_line_naming_its_field(legacy, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"population": {"trusts": ["RT1", "RT2", "RT4"]}, "legacy": legacy}, "s.yaml")
    assert str(err.value).startswith(f"s.yaml: {message}"), str(err.value)
    assert "\n" not in str(err.value)


def test_a_scenario_without_legacy_trusts_has_none():
    assert parse_scenario({}).legacy is None
    assert parse_scenario({}).legacy_trusts == []
    spec = parse_scenario(LEGACY)
    assert spec.legacy_trusts == ["RT4"] and spec.legacy.middleware.queue == "persistent"


def test_stack_urls_name_the_legacy_parties_only_when_asked():
    plain = StackUrls.local()
    assert plain.middleware is None and plain.legacy_pas is None
    assert set(plain.as_dict()) == {"broker", "spine", "pas", "gp"}
    legacy = StackUrls.local(legacy=True)
    assert legacy.middleware == "http://127.0.0.1:8004" and legacy.legacy_pas == "http://127.0.0.1:8005"
    assert DEFAULT_PORTS["middleware"] == 8004 and DEFAULT_PORTS["legacy_pas"] == 8005
    assert plain.with_legacy() == legacy and legacy.without_legacy() == plain
    # A run takes them only for a scenario with legacy trusts.
    assert urls_for(parse_scenario({}), legacy) == plain
    assert urls_for(parse_scenario(LEGACY), plain) == legacy


def _env(stack: EmbeddedStack, name: str, scenario_env: dict[str, str]) -> dict[str, str]:
    spec = next(s for s in stack.parties if s.name == name)
    return {**stack.party_env(spec), **scenario_env}


def _codes(catalogue: str) -> list[str]:
    return [t["ods"] for t in json.loads(catalogue)]


def test_without_legacy_trusts_the_stack_is_the_four_parties(tmp_path):
    stack = EmbeddedStack(StackUrls.local(), tmp_path, tmp_path)
    assert [p.name for p in stack.parties] == ["spine", "pas", "gp", "broker"]
    env = {**stack.party_env(stack.parties[-1]), **receiver_env(parse_scenario({}))}
    assert "BROKER_TRUST_ROOTS" not in env and "PAS_TRUSTS" not in env
    assert not any(k.startswith(("MIDDLEWARE_", "LEGACY_PAS_")) for k in receiver_env(parse_scenario({})))


def test_each_party_is_given_its_share_of_the_trusts(tmp_path):
    scenario = parse_scenario(LEGACY)
    stack = EmbeddedStack(StackUrls.local(), tmp_path, tmp_path, legacy_trusts=scenario.legacy_trusts)
    assert [p.name for p in stack.parties] == ["spine", "pas", "gp", "legacy_pas", "middleware", "broker"]
    assert stack.urls.middleware == "http://127.0.0.1:8004"
    extra = {**receiver_env(scenario), **clock_env(scenario)}
    pas = _env(stack, "pas", extra)
    assert _codes(pas["PAS_TRUSTS"]) == ["RT1", "RT2"]      # not the legacy trust, nor one left out
    legacy = _env(stack, "legacy_pas", extra)
    assert _codes(legacy["LEGACY_PAS_TRUSTS"]) == ["RT4"]
    assert json.loads(legacy["LEGACY_PAS_MLLP_PORTS"]) == {"RT4": 2575}
    assert legacy["LEGACY_PAS_PORT"] == "8005" and legacy["LEGACY_PAS_ACK_DELAY_MS"] == "250.0"
    assert legacy["LEGACY_PAS_DATABASE_URL"].endswith("legacy_pas.db")
    mw = _env(stack, "middleware", extra)
    assert _codes(mw["MIDDLEWARE_TRUSTS"]) == ["RT4"]
    assert json.loads(mw["MIDDLEWARE_PAS_MLLP"]) == {"RT4": "127.0.0.1:2575"}
    assert mw["MIDDLEWARE_PORT"] == "8004" and mw["MIDDLEWARE_SPINE_URL"] == "http://127.0.0.1:8001"
    assert (mw["MIDDLEWARE_QUEUE"], mw["MIDDLEWARE_SPINE_LOOKUP"], mw["MIDDLEWARE_CRASH_AFTER_SPINE_FAILURES"],
            mw["MIDDLEWARE_RESTART_S"], mw["MIDDLEWARE_ACK_TIMEOUT_S"], mw["MIDDLEWARE_RESENDS"]) == (
        "persistent", "true", "1", "30.0", "5.0", "2")
    broker = _env(stack, "broker", extra)
    assert json.loads(broker["BROKER_TRUST_ROOTS"]) == ["http://127.0.0.1:8004"]
    # On the scenario's clock like the others.
    assert mw["MIDDLEWARE_CLOCK"] == legacy["LEGACY_PAS_CLOCK"] == broker["BROKER_CLOCK"] == "system"


def test_two_legacy_trusts_take_consecutive_mllp_ports(tmp_path):
    stack = EmbeddedStack(StackUrls.local(), tmp_path, tmp_path, legacy_trusts=["RT3", "RT4"], mllp_port=3000)
    assert stack.mllp == {"RT3": 3000, "RT4": 3001}
    pas = stack.party_env(next(s for s in stack.parties if s.name == "pas"))
    assert _codes(pas["PAS_TRUSTS"]) == ["RT1", "RT2"]


def test_the_clock_driver_moves_the_middleware_after_the_receivers_and_before_the_broker():
    moved: list[list[str]] = []

    held: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.host
        if request.method == "POST":
            # Every party's time moves first, waking nobody (`wake: false`); then each stage wakes.
            if json.loads(request.content).get("wake") is False:
                assert not moved, "a party was woken before every party's time had moved"
                held.append(name)
            else:
                moved.append([name])
        return httpx.Response(200, json={"mode": "virtual", "elapsed_s": 0.0, "next_wakeup_s": None})

    async def go(urls: StackUrls) -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            driver = ClockDriver(client, urls)
            await driver.advance_to(10.0)
            assert set((await driver.states())) == {n for n, u in urls.as_dict().items()}

    urls = StackUrls(broker="http://broker", spine="http://spine", pas="http://pas", gp="http://gp",
                     middleware="http://middleware", legacy_pas="http://legacy_pas")
    asyncio.run(go(urls))
    order = [m[0] for m in moved]
    assert sorted(held) == sorted(urls.as_dict())
    assert set(order[:4]) == {"spine", "pas", "gp", "legacy_pas"} and order[4:] == ["middleware", "broker"]
    moved.clear()
    held.clear()
    asyncio.run(go(urls.without_legacy()))
    assert len(moved) == 4 and moved[-1] == ["broker"] and len(held) == 4


def test_up_refuses_an_unknown_legacy_trust_in_one_line():
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "up", "--legacy-trust", "RT9"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip() == ("testbed: error: --legacy-trust: legacy.trusts[0]: unknown trust 'RT9' "
                                   "(known: RT1, RT2, RT3, RT4)")


def test_rules_on_the_middlewares_links_are_its_plan_and_need_legacy_trusts():
    rules = [{"link": "middleware->spine", "action": "outage", "window": {"from": 0, "to": 60}},
             {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.1}]
    spec = parse_scenario({**LEGACY, "faults": rules})
    assert [r["link"] for r in spec.fault_plan()["rules"]] == ["broker->pas:*"]
    assert [r["link"] for r in spec.fault_plan("middleware")["rules"]] == ["middleware->spine"]
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.link: 'middleware->spine' is a middleware link, and "
                                            r"the scenario has no legacy trusts"):
        parse_scenario({"faults": rules})


def test_reconcile_reads_a_legacy_pas_beside_a_default_stack_or_where_it_is_named():
    from harness.cli.options import stack_urls

    none = {"middleware": None, "legacy_pas": None}
    default = stack_urls("127.0.0.1", {"broker": 8000, "spine": 8001, "pas": 8002, "gp": 8003, **none}, {})
    assert default.legacy_pas == "http://127.0.0.1:8005" and default.middleware == "http://127.0.0.1:8004"
    # A stack moved elsewhere: another stack's legacy PAS on 8005 is not its own.
    moved = stack_urls("127.0.0.1", {"broker": 9000, "spine": 9001, "pas": 9002, "gp": 9003, **none}, {})
    assert moved.legacy_pas is None and moved.middleware is None
    named = stack_urls("127.0.0.1", {"broker": 9000, "spine": 9001, "pas": 9002, "gp": 9003,
                                     "middleware": None, "legacy_pas": 9005}, {"middleware": "http://mw:1"})
    assert (named.legacy_pas, named.middleware) == ("http://127.0.0.1:9005", "http://mw:1")


@pytest.mark.sockets
@pytest.mark.timeout(240)
def test_a_legacy_scenario_against_a_stack_up_without_a_middleware_is_refused_in_one_line(tmp_path):
    from tests.e2e.test_sockets import _free_ports, _port_args, _testbed, running_stack

    ports = _free_ports(6)
    scenario = tmp_path / "legacy.yaml"
    scenario.write_text("workload: {bookings: 2}\nlegacy: {trusts: [RT4]}\n")
    with running_stack(tmp_path / "stack", ports[:4]):
        done = subprocess.run(_testbed("run", "--scenario", str(scenario), "--runs-dir", str(tmp_path / "runs"),
                                       *_port_args(ports[:4]), "--middleware-port", str(ports[4]),
                                       "--legacy-pas-port", str(ports[5])),
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("testbed: error: ")]
    assert errors == [f"testbed: error: the scenario has legacy trusts, but no middleware answers at "
                      f"http://127.0.0.1:{ports[4]} (a stack already up without them? stop it, or start it with "
                      "`testbed up --legacy-trust ...`)"], done.stderr
