"""The pieces of a clocked run: scenario fields, arrival times, pacing on the system clock, the driver."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from harness.run.arrivals import ArrivalSpec, arrival_times
from harness.run.clock_driver import ClockDriver
from harness.stack.embedded import StackError
from harness.run.pacing import paced_by_system_clock
from harness.run.runner import RunOptions, clock_env, drive
from harness.scenario.model import ScenarioError, parse_scenario
from harness.run.workload import Workload, discover
from party_common.http_client import RoutingTransport
from tests.stack_inprocess import inprocess_stack, mount


def test_scenario_clock_and_arrival_fields():
    s = parse_scenario({"clock": {"mode": "virtual", "epoch": "2010-01-01T08:00:00"},
                        "workload": {"arrival": {"process": "poisson", "per_hour": 100}}})
    assert s.clock.mode == "virtual" and s.clock.epoch == datetime(2010, 1, 1, 8, tzinfo=timezone.utc)
    assert (s.workload.arrival.process, s.workload.arrival.per_hour) == ("poisson", 100)
    default = parse_scenario({})
    assert default.clock.mode == "system" and default.workload.arrival.process == "closed"
    assert clock_env(s)["BROKER_CLOCK"] == "virtual"
    assert clock_env(s)["GP_CLOCK_EPOCH"] == "2010-01-01T08:00:00Z"
    assert set(clock_env(s)) == {f"{p}_{k}" for p in ("BROKER", "SPINE", "PAS", "GP") for k in ("CLOCK", "CLOCK_EPOCH")}


@pytest.mark.parametrize("data,field", [
    ({"clock": {"mode": "sundial"}}, "clock.mode"),
    ({"clock": {"epoch": "yesterday"}}, "clock.epoch"),
    ({"clock": {"speed": 2}}, "clock.speed"),
    ({"workload": {"arrival": {"process": "poisson"}}}, "needs per_hour"),
    ({"workload": {"arrival": {"process": "uniform", "per_hour": 0}}}, "workload.arrival.per_hour"),
    ({"workload": {"arrival": {"process": "bursty", "per_hour": 5}}}, "workload.arrival.process"),
])
def test_bad_clock_and_arrival_fields_name_the_field(data, field):
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        parse_scenario(data)


def test_arrival_times_follow_the_rate_and_the_seed():
    poisson = ArrivalSpec(process="poisson", per_hour=100)
    times = arrival_times(poisson, 2000, seed=3)
    assert times == sorted(times) and times == arrival_times(poisson, 2000, seed=3)
    assert times != arrival_times(poisson, 2000, seed=4)
    assert 90 < 2000 / (times[-1] / 3600) < 110  # the mean rate, per hour
    assert arrival_times(ArrivalSpec(process="uniform", per_hour=60), 3, seed=1) == [0.0, 60.0, 120.0]
    assert arrival_times(ArrivalSpec(), 10, seed=1) is None


async def test_on_the_system_clock_each_booking_starts_at_its_arrival():
    started: dict[int, float] = {}
    origin = time.monotonic()

    async def book(i: int) -> None:
        started[i] = time.monotonic() - origin

    await paced_by_system_clock(3, book, [0.0, 0.1, 0.25], concurrency=2)
    assert sorted(started) == [0, 1, 2]
    assert started[1] >= 0.1 and started[2] >= 0.25


async def test_the_driver_refuses_a_stack_on_the_system_clock(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        with pytest.raises(StackError, match="runs on the system clock|run on the system clock"):
            await ClockDriver(client, urls).start()


async def test_a_system_clock_run_refuses_a_stack_on_virtual_time(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50, clock="virtual") as (urls, _client, apps):
        opts = RunOptions(scenario=parse_scenario({"workload": {"bookings": 1}}), urls=urls, runs_dir=tmp_path)
        (tmp_path / "run").mkdir()
        with pytest.raises(StackError, match="virtual clock"):
            await drive(opts, tmp_path / "run", transport=mount(RoutingTransport(), apps))


async def test_the_driver_moves_every_party_together_and_never_back(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50, clock="virtual") as (urls, client, apps):
        await client.post(f"{urls.pas}/clock/advance", json={"to_s": 40})
        driver = ClockDriver(client, urls)
        assert await driver.start() == 40  # aligned on the furthest
        await driver.advance_to(100)
        await driver.advance_to(50)
        states = await driver.states()
        assert {s["elapsed_s"] for s in states.values()} == {100}
        assert {s["now"] for s in states.values()} == {"2006-06-05T09:01:40Z"}
        assert await driver.next_wakeup() is None


async def test_every_party_records_its_virtual_time(tmp_path):
    """One booking an hour into simulated time: each party's rows and messages carry 10:00, not today."""
    async with inprocess_stack(tmp_path, population_size=50, clock="virtual") as (urls, client, apps):
        driver = ClockDriver(client, urls)
        await driver.start()
        await driver.advance_to(3600)
        population = await discover(client, urls, patients_per_practice=20)
        result = await Workload(urls, population, seed=1, bookings=1).book_one(client, 0)
        assert result.outcome == "accepted"
        await apps["broker"].state.journal.flush()
        stamps = {}
        for party, sql in (("spine", "SELECT allocated_at FROM ubrn_allocations"),
                           ("spine", "SELECT updated_at FROM booking_index"),
                           ("pas", "SELECT created_at FROM appointments"),
                           ("gp", "SELECT created_at FROM referrals"),
                           ("gp", "SELECT updated_at FROM bookings"),
                           ("broker", "SELECT created_at FROM ledger"),
                           ("broker", "SELECT at FROM journal")):
            async with apps[party].state.db.session() as s:
                stamps[sql] = {str(v)[:16] for v in (await s.execute(text(sql))).scalars()}
        assert {sql: found for sql, found in stamps.items() if found != {"2006-06-05 10:00"}} == {}
