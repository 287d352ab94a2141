"""The drain after the last booking: on a virtual clock it waits as long as simulated time moves, so a
slow machine cannot end a run with bookings still on their way; with no progress it gives up."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from harness.run import runner
from harness.run.runner import wait_for_drain
from harness.stack.endpoints import StackUrls

pytestmark = pytest.mark.timeout(60)

URLS = StackUrls.local("127.0.0.1", {"broker": 1, "spine": 2, "pas": 3, "gp": 4})


class SlowDriver:
    """A clock driver whose every move takes real time (a loaded machine) and whose outbox empties
    after `moves` of them."""

    def __init__(self, moves: int, real_s_per_move: float, step_s: float = 60.0):
        self.at, self.moves, self.real_s, self.step = 0.0, moves, real_s_per_move, step_s

    async def next_wakeup(self) -> float | None:
        return self.at + self.step

    async def advance_to(self, seconds: float) -> None:
        await asyncio.sleep(self.real_s)
        self.at = seconds
        self.moves -= 1


def _client(driver: SlowDriver) -> httpx.AsyncClient:
    def outbox(request: httpx.Request) -> httpx.Response:
        depth = max(driver.moves, 0)
        return httpx.Response(200, json={"depth": depth, "held": 0})
    return httpx.AsyncClient(transport=httpx.MockTransport(outbox))


async def test_a_drain_that_keeps_moving_simulated_time_outlasts_the_real_time_patience():
    # Ten moves of 30 ms each: 300 ms of real time against a patience of 50 ms.
    driver = SlowDriver(moves=10, real_s_per_move=0.03)
    async with _client(driver) as client:
        state = await wait_for_drain(client, URLS, timeout=0.05, driver=driver)  # type: ignore[arg-type]
    assert state["depth"] == 0 and driver.at == 600.0


async def test_a_drain_whose_clock_stands_still_gives_up_after_the_patience():
    driver = SlowDriver(moves=10, real_s_per_move=0.0)
    driver.next_wakeup = _never   # type: ignore[method-assign]
    async with _client(driver) as client:
        state = await wait_for_drain(client, URLS, timeout=0.05, driver=driver)  # type: ignore[arg-type]
    assert state["depth"] == 10 and driver.at == 0.0


async def test_a_drain_stops_at_the_simulated_cap(monkeypatch):
    monkeypatch.setattr(runner, "VIRTUAL_DRAIN_CAP_S", 300.0)
    driver = SlowDriver(moves=1000, real_s_per_move=0.0)
    async with _client(driver) as client:
        state = await wait_for_drain(client, URLS, timeout=30, driver=driver)  # type: ignore[arg-type]
    assert state["depth"] > 0 and 300.0 < driver.at <= 360.0


async def _never() -> None:
    await asyncio.sleep(0)
    return None
