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
