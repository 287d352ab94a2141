"""Starting a workload's bookings at their arrival times, on the system clock or a virtual one.

On the system clock the harness sleeps until each arrival. On a virtual clock nothing passes by
itself: the harness moves every party to an arrival before starting that booking, and when the
bookings in flight stop finishing while some party has sleepers (a fault's delay, a retry's
backoff), they are waiting on simulated time, so it moves the clocks to the earliest wakeup.
Simulated time moves only when nothing else can happen, so real work takes no simulated time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from harness.run.clock_driver import ClockDriver

StartOne = Callable[[int], Awaitable[None]]

# How long in-flight work must go without finishing before it counts as waiting on the clock.
QUIET_S = 0.03


async def paced_by_system_clock(count: int, start_one: StartOne, times: list[float], concurrency: int) -> None:
    slots = asyncio.Semaphore(max(1, concurrency))
    origin = time.monotonic()
    tasks = []

    async def one(i: int) -> None:
        try:
            await start_one(i)
        finally:
            slots.release()

    for i in range(count):
        await asyncio.sleep(max(0.0, origin + times[i] - time.monotonic()))
        await slots.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def paced_by_virtual_clock(count: int, start_one: StartOne, times: list[float] | None, concurrency: int,
                                 driver: ClockDriver, quiet_s: float = QUIET_S) -> None:
    """`times` None is a closed workload: every booking arrives at once, `concurrency` at a time.

    Each booking is the harness's work while none of its calls is out (`driver.booking()`), so the
    driver does not call the stack settled between two calls of one booking.
    """
    origin = driver.at
    waiting = deque((i, origin + (times[i] if times else 0.0)) for i in range(count))
    in_flight: set[asyncio.Task] = set()

    async def booking(i: int) -> None:
        with driver.booking():
            await start_one(i)

    try:
        while waiting or in_flight:
            while waiting and len(in_flight) < concurrency and waiting[0][1] <= driver.at:
                in_flight.add(asyncio.create_task(booking(waiting.popleft()[0])))
            next_arrival = waiting[0][1] if waiting and len(in_flight) < concurrency else None
            if in_flight:
                done, in_flight = await asyncio.wait(in_flight, timeout=quiet_s,
                                                     return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
                if done:
                    continue
            # Nothing in flight, or nothing finishing: whatever is left waits on simulated time.
            wakeup = await driver.next_wakeup()
            # A booking that ended while the parties settled freed its slot at this instant: the
            # arrivals it lets start go now, before time moves (answers on their way to the harness
            # are on the wire, so settled() waited for them; a booking is done once it has read its
            # last one).
            done = {task for task in in_flight if task.done()}
            if done:
                in_flight -= done
                for task in done:
                    task.result()
                continue
            if in_flight and wakeup is None:
                continue  # real work still under way
            due = [t for t in (wakeup, next_arrival) if t is not None]
            if due:
                await driver.advance_to(min(due))
    finally:
        for task in in_flight:
            task.cancel()
