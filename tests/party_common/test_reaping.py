"""reap(): a task stopping tasks of its own ends them, and is itself stopped if cancelled meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from party_common.reaping import reap

pytestmark = pytest.mark.timeout(30)


def _slow_to_end(gate: asyncio.Event, ended: list[str]):
    """A task that, cancelled, takes until `gate` to end (as an MLLP reading or a worker may)."""

    async def body() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await gate.wait()
            ended.append("child")
            raise

    return asyncio.create_task(body())


async def test_a_reaper_cancelled_while_it_waits_stops_instead_of_carrying_on():
    # The middleware's worker was cancelled (its engine stopped) while it waited for a task of its
    # own to end; the CancelledError was taken for the child's and swallowed, the worker went back
    # to its queue, and the stop() waiting on it never returned.
    gate, ended, carried_on = asyncio.Event(), [], []
    child = _slow_to_end(gate, ended)
    await asyncio.sleep(0)

    async def reaper() -> None:
        await reap(child)
        carried_on.append(True)

    task = asyncio.create_task(reaper())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and carried_on == [] and child.done()


async def test_a_reaper_not_cancelled_carries_on_once_its_tasks_have_ended():
    gate, ended = asyncio.Event(), []
    children = [_slow_to_end(gate, ended) for _ in range(2)]
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(gate.set)
    await reap(*children, None)
    assert ended == ["child", "child"] and all(c.cancelled() for c in children)


async def test_errors_a_task_ended_with_are_raised_or_dropped_as_asked():
    async def failing() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise ValueError("failed while stopping")

    first, second = asyncio.create_task(failing()), asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="failed while stopping"):
        await reap(first)
    await reap(second, errors=False)
    assert second.done()
