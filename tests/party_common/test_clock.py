"""VirtualClock: time moves only when advanced; sleepers wake in order of their targets."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from party_common.clock import DEFAULT_EPOCH, Clock, ClockError, VirtualClock, make_clock, party_clock, using_clock
from party_common.settings import PartySettings

EPOCH = datetime(2006, 6, 5, 9, 0, tzinfo=timezone.utc)


async def test_time_stands_still_until_advanced():
    clock = VirtualClock(EPOCH)
    first = clock.now()
    await asyncio.sleep(0.01)
    assert clock.now() == first == EPOCH
    assert clock.monotonic() == 0.0
    await clock.advance_by(90)
    assert clock.monotonic() == 90.0
    assert clock.now() == EPOCH + timedelta(seconds=90)


async def test_a_sleep_ends_only_when_the_clock_passes_its_target():
    clock = VirtualClock(EPOCH)
    woke = asyncio.Event()

    async def sleeper():
        await clock.sleep(600)
        woke.set()

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    assert clock.sleepers == 1 and clock.next_wakeup() == 600
    await clock.advance_to(599.9)
    assert not woke.is_set()
    real = time.monotonic()
    await clock.advance_to(600)
    await task
    assert woke.is_set() and time.monotonic() - real < 1
    assert clock.sleepers == 0 and clock.next_wakeup() is None


async def test_sleepers_wake_in_order_of_their_targets_and_see_their_own_time():
    clock = VirtualClock(EPOCH)
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float):
        await clock.sleep(seconds)
        seen.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 30), ("a", 10), ("b", 20), ("a2", 10))]
    await asyncio.sleep(0)
    await clock.advance_to(100)
    await asyncio.gather(*tasks)
    assert seen == [("a", 10), ("a2", 10), ("b", 20), ("c", 30)]
    assert clock.monotonic() == 100


async def test_a_sleep_started_by_a_woken_sleeper_within_the_advance_wakes_in_the_same_advance():
    clock = VirtualClock(EPOCH)
    seen: list[float] = []

    async def retrying():
        for _ in range(3):
            await clock.sleep(5)
            seen.append(clock.monotonic())

    task = asyncio.create_task(retrying())
    await asyncio.sleep(0)
    await clock.advance_to(12)
    assert seen == [5, 10]
    await clock.advance_by(3)
    await task
    assert seen == [5, 10, 15]


async def test_holding_at_a_time_moves_it_and_wakes_nobody_nor_passes_a_sleeper():
    clock = VirtualClock(EPOCH)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.monotonic())

    tasks = [asyncio.create_task(sleeper(s)) for s in (10, 30)]
    await asyncio.sleep(0)
    await clock.hold_at(10)
    await asyncio.sleep(0)
    assert clock.monotonic() == 10 and woke == [] and clock.sleepers == 2
    await clock.advance_to(10)   # the second half: those due wake, at their time
    assert woke == [10]
    await clock.hold_at(50)      # not past the sleeper due at 30: it must wake at its own time
    assert clock.monotonic() == 30 and woke == [10]
    await clock.advance_to(50)
    await asyncio.gather(*tasks)
    assert woke == [10, 30] and clock.monotonic() == 50
    with pytest.raises(ClockError):
        await clock.hold_at(40)


async def test_the_clock_never_goes_backwards():
    clock = VirtualClock(EPOCH)
    await clock.advance_to(50)
    with pytest.raises(ClockError, match="cannot go back"):
        await clock.advance_to(49)
    with pytest.raises(ClockError, match="negative"):
        await clock.advance_by(-1)
    assert clock.monotonic() == 50


async def test_a_cancelled_sleeper_is_forgotten():
    clock = VirtualClock(EPOCH)
    task = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0 and clock.next_wakeup() is None
    await clock.advance_to(20)


async def test_the_system_clock_counts_its_sleepers_and_has_no_wakeup_list():
    clock = Clock()
    task = asyncio.create_task(clock.sleep(0.05))
    await asyncio.sleep(0.01)
    assert clock.sleepers == 1 and clock.next_wakeup() is None
    await task
    assert clock.sleepers == 0 and clock.elapsed() > 0


def test_settings_choose_the_clock():
    virtual = PartySettings(clock="virtual", clock_epoch="2010-01-01T00:00:00").make_clock()
    assert isinstance(virtual, VirtualClock) and virtual.now() == datetime(2010, 1, 1, tzinfo=timezone.utc)
    assert type(PartySettings().make_clock()) is Clock
    assert PartySettings(clock="virtual").make_clock().now() == DEFAULT_EPOCH
    with pytest.raises(ValueError):
        make_clock("sundial")


def test_party_clock_is_the_one_in_use():
    virtual = VirtualClock(EPOCH)
    assert type(party_clock()) is Clock
    with using_clock(virtual):
        assert party_clock() is virtual
    assert party_clock() is not virtual


async def test_busy_means_work_neither_asleep_nor_waiting_on_another_party():
    clock = VirtualClock(EPOCH)
    release = asyncio.Event()
    assert not clock.busy

    async def handler(then):
        with clock.working():
            await then()

    async def call_out():
        with clock.calling_out():
            await release.wait()

    async def fan():
        await clock.fan_out(clock.sleep(5), clock.sleep(10))

    for then, busy in ((release.wait, True), (lambda: clock.sleep(5), False), (call_out, False), (fan, False)):
        task = asyncio.create_task(handler(then))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert clock.busy is busy, then
        release.set()
        await clock.advance_by(10)
        await task
        release.clear()
        assert not clock.busy

    background = {"busy": True}
    clock.watch(lambda: background["busy"])
    assert clock.busy
    background["busy"] = False
    assert not clock.busy


async def _steps(clock: Clock, until, limit: int = 50) -> list[bool]:
    """`clock.busy` after each turn of the event loop that leaves `until()` false; stops once it holds."""
    seen = []
    for _ in range(limit):
        await asyncio.sleep(0)
        if until():
            return seen
        seen.append(clock.busy)
    raise AssertionError("never got there")


async def test_a_fan_out_is_work_until_its_parts_run_and_again_from_when_they_end():
    # Between the parts being made and their first run, and between the last one ending and the
    # request running again, nothing but the request itself can show the party busy: a harness
    # polling then would move time under it (the replay determinism failures of issue 13).
    clock = VirtualClock(EPOCH)
    go = asyncio.Event()
    state = {"started": 0, "ended": 0, "resumed": False}

    async def part():
        state["started"] += 1
        with clock.calling_out():   # a call to another party, answered when `go` is set
            await go.wait()
        state["ended"] += 1

    async def request():
        with clock.working():
            await clock.fan_out(part(), part())
            state["resumed"] = True

    task = asyncio.create_task(request())
    await asyncio.sleep(0)   # the request ran up to its gather: the parts are made, not yet run
    assert state == {"started": 0, "ended": 0, "resumed": False} and clock.busy
    await asyncio.sleep(0)
    assert state["started"] == 2 and not clock.busy   # both parts wait (on another party, say)
    go.set()
    after_parts = await _steps(clock, lambda: state["resumed"])
    assert after_parts and all(after_parts)
    await task
    assert not clock.busy


async def test_a_fan_out_whose_part_fails_is_work_until_the_request_takes_the_failure():
    clock = VirtualClock(EPOCH)
    go = asyncio.Event()
    outcome = {}

    async def fails():
        with clock.calling_out():
            await go.wait()
        raise ValueError("trust gone")

    async def request():
        with clock.working():
            try:
                await clock.fan_out(fails(), clock.sleep(60))
            except ValueError as exc:
                outcome["error"] = exc

    task = asyncio.create_task(request())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not clock.busy   # one part waits on another party, the other sleeps on the clock
    go.set()
    steps = await _steps(clock, lambda: "error" in outcome)
    assert steps and all(steps)
    await task
    assert not clock.busy   # the sleeping part is left asleep, as gather leaves it
    await clock.advance_by(60)
