"""The virtual clock through the real run path: `testbed run`'s drive loop against an in-process stack.

Hours of simulated booking run in seconds; fault windows and delays follow simulated time; a run on
the virtual clock journals the same twice.
"""

from __future__ import annotations

import time

from harness.run.arrivals import arrival_times
from harness.run.runner import RunOptions, drive
from harness.scenario.model import parse_scenario
from party_common.http_client import RoutingTransport
from tests.stack_inprocess import inprocess_stack, mount


async def run_scenario(tmp_path, data: dict, name: str = "run") -> tuple[dict, list[dict], list[dict]]:
    """Runs a scenario on a fresh in-process stack on the scenario's clock; (summary, journal, bookings)."""
    scenario = parse_scenario(data)
    folder = tmp_path / name
    folder.mkdir()
    async with inprocess_stack(tmp_path / f"{name}-stack", population_size=200,
                               clock=scenario.clock.mode) as (urls, _client, apps):
        summary = await drive(RunOptions(scenario=scenario, urls=urls, runs_dir=tmp_path, drain_timeout_s=60),
                              folder, transport=mount(RoutingTransport(), apps))
    return summary, read_jsonl(folder / "journal.jsonl"), read_jsonl(folder / "bookings.jsonl")


def read_jsonl(path) -> list[dict]:
    import orjson

    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_an_outage_window_hours_into_a_run_hits_exactly_the_bookings_arriving_in_it(tmp_path):
    data = {
        "seed": 4, "clock": {"mode": "virtual"},
        "workload": {"bookings": 200, "concurrency": 4, "arrival": {"process": "poisson", "per_hour": 50}},
        "faults": [{"link": "broker->spine", "action": "outage", "window": {"from": 3600, "to": 5400}}],
    }
    times = arrival_times(parse_scenario(data).workload.arrival, 200, 4)
    assert times[-1] > 3.5 * 3600  # about four simulated hours

    real = time.monotonic()
    summary, journal, bookings = await run_scenario(tmp_path, data)
    real = time.monotonic() - real

    in_window = {i for i, t in enumerate(times) if 3600 <= t < 5400}
    failed = {b["index"] for b in bookings if b["outcome"] != "accepted"}
    assert 10 < len(in_window) < 60
    assert failed == in_window
    assert summary["clock"]["mode"] == "virtual"
    assert summary["clock"]["simulated_s"] >= times[-1]
    assert real < summary["clock"]["simulated_s"] / 20
    # The journal's times are simulated: every outage decision lies inside the window.
    outages = [e for e in journal if e["decision"] == "outage"]
    assert outages and all(3600 <= e["elapsed_s"] < 5400 for e in outages)
    assert {e["at"][:13] for e in outages} <= {"2006-06-05T10", "2006-06-05T11"}


async def test_a_ten_minute_delay_takes_ten_simulated_minutes_not_real_ones(tmp_path):
    data = {
        "seed": 2, "clock": {"mode": "virtual", "epoch": "2006-06-05T09:00:00Z"},
        "workload": {"bookings": 3, "concurrency": 1},
        "faults": [{"link": "broker->pas:*", "event": "booking-request", "action": "delay", "ms": 600_000}],
    }
    summary, journal, bookings = await run_scenario(tmp_path, data)
    assert [b["outcome"] for b in bookings] == ["accepted"] * 3
    delayed = [e for e in journal if e["decision"] == "delay"]
    assert len(delayed) == 3
    assert all(e["latency_ms"] == 600_000 for e in delayed)
    assert [e["at"][:19] for e in delayed] == ["2006-06-05T09:10:00", "2006-06-05T09:20:00", "2006-06-05T09:30:00"]
    assert summary["clock"]["simulated_s"] == 1800
    assert summary["clock"]["real_s"] < 300


# Reliable delivery, delays on every trust, an outage on the practices' link (also run under load by
# tests/harness/test_determinism_under_load.py).
JOURNALS_THE_SAME = {
    "seed": 9, "clock": {"mode": "virtual"}, "delivery": "reliable",
    "workload": {"bookings": 30, "concurrency": 4, "arrival": {"process": "poisson", "per_hour": 120}},
    "faults": [
        {"link": "broker->pas:*", "action": "delay", "median_ms": 20_000, "probability": 0.5},
        {"link": "broker->gp:*", "action": "outage", "window": {"from": 300, "to": 330}},
    ],
}


async def test_a_virtual_clock_run_journals_the_same_twice(tmp_path):
    first, first_journal, _ = await run_scenario(tmp_path, JOURNALS_THE_SAME, "first")
    second, second_journal, _ = await run_scenario(tmp_path, JOURNALS_THE_SAME, "second")
    assert len(first_journal) > 60
    assert any(e["decision"] == "outage" for e in first_journal)
    assert first_journal == second_journal
    assert first["clock"]["simulated_s"] == second["clock"]["simulated_s"]
