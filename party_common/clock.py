"""The one clock every party and the fault engine read, so a virtual clock can replace it.

`Clock` is the machine's time. `VirtualClock` moves only when told to (`advance_to`), so a scenario
spanning hours of simulated booking runs in seconds: sleeps on it end when the clock is advanced
past them, not when real time passes.

A party builds one clock (app.state.clock) and hands it to the objects that live as long as it does
(journal, fault engine, outbox). Code deep in a request handler that only needs "now" (message
timestamps, `updated_at` columns) reads `party_clock()`, which the party sets for each request and
for its lifespan's background tasks: one context variable rather than a clock threaded through
every helper.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import TypeVar

T = TypeVar("T")

SYSTEM = "system"
VIRTUAL = "virtual"
DEFAULT_EPOCH = datetime(2006, 6, 5, 9, 0, tzinfo=timezone.utc)

# Woken sleepers get this many turns of the event loop each before the next is woken, so the work
# they start runs in the order of their targets rather than all at once.
_TURNS_PER_WAKE = 4


def this_task() -> asyncio.Task:
    """The task running the caller: the clock tracks work and sleep per task, so it is never
    called outside one."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("the party clock is used outside an asyncio task")
    return task


class Clock:
    """Wall time for records, monotonic time for windows and delays."""

    mode = SYSTEM

    def __init__(self):
        self.started = time.monotonic()
        self._probes: list[Callable[[], bool]] = []
        self._sleeping: set[asyncio.Task] = set()
        # What each task is doing for this party, innermost last: handling a request ("work"),
        # waiting on another party ("call") or on tasks of its own (`fan_out`, "wait"). In one
        # process a task may go through several parties.
        self._doing: dict[asyncio.Task, list[str]] = {}
        # Calls between parties, counted at both ends and in both directions: a request sent and not
        # yet received, or an answer given and not yet read, is on the wire, nobody's work for that
        # instant, so a harness must not move time under it.
        self.calls_sent = 0
        self.calls_unreached = 0
        self.calls_received = 0
        self.calls_answered = 0     # calls received whose handling has ended (the answer is sent)
        self.answers_received = 0   # calls sent whose answer has been read

    @property
    def sleepers(self) -> int:
        return len(self._sleeping)

    def is_sleeping(self, task: asyncio.Task) -> bool:
        """Whether `task` is asleep on this clock (so waiting on time, not working)."""
        return task in self._sleeping

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def watch(self, probe: Callable[[], bool]) -> None:
        """Registers a probe saying the party has background work under way that is not waiting on
        the clock (the broker's outbox between deliveries)."""
        self._probes.append(probe)

    @contextmanager
    def _doing_now(self, what: str) -> Iterator[None]:
        task = this_task()
        stack = self._doing.setdefault(task, [])
        stack.append(what)
        try:
            yield
        finally:
            stack.pop()
            if not stack:
                del self._doing[task]

    def working(self):
        """Around a request the party handles: it is busy while the handler runs, unless asleep on
        this clock or waiting on another party (`calling_out`)."""
        return self._doing_now("work")

    def calling_out(self):
        """Around a call to another party: that party's work, not this one's."""
        return self._doing_now("call")

    async def fan_out(self, *aws: Awaitable[T]) -> list[T]:
        """asyncio.gather for work a request spreads over tasks: each task counts as this party's
        work, and the request waiting on them does not, while they run.

        The request counts as work itself until the last of its tasks has started (a task made is
        not yet running, and until it runs nothing else would show this party busy), and again from
        the instant the last one ends (or one fails, which gather hands it at once) rather than from
        when the event loop next runs it: a harness polling in either gap would move time under it.
        """
        waiter = this_task()
        unstarted = left = len(aws)
        over = False  # gather has (or is about to have) an answer for the waiter

        def waiting(now: bool) -> None:
            stack = self._doing.get(waiter)
            if stack:
                stack[-1] = "wait" if now and not over else "work"

        async def part(aw: Awaitable[T]) -> T:
            nonlocal unstarted, left, over
            with self.working():
                unstarted -= 1
                if unstarted == 0:
                    waiting(True)
                try:
                    return await aw
                except BaseException:
                    over = True
                    waiting(False)
                    raise
                finally:
                    left -= 1
                    if left == 0:
                        over = True
                        waiting(False)

        with self._doing_now("work"):
            return list(await asyncio.gather(*(part(aw) for aw in aws)))

    @property
    def busy(self) -> bool:
        """Work under way here that is neither asleep on this clock nor waiting on another party.
        A harness moves a virtual clock only when no party is busy."""
        return any(stack[-1] == "work" and task not in self._sleeping for task, stack in self._doing.items()) \
            or any(probe() for probe in self._probes)

    def elapsed(self) -> float:
        """Seconds since the clock was made."""
        return self.monotonic() - self.started

    def next_wakeup(self) -> float | None:
        """When the earliest sleeper wakes, in `elapsed()` seconds; the system clock keeps no such list."""
        return None

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            task = this_task()
            self._sleeping.add(task)
            try:
                await asyncio.sleep(seconds)
            finally:
                self._sleeping.discard(task)


class ClockError(ValueError):
    """A request the clock cannot honour (going backwards)."""


class VirtualClock(Clock):
    """Simulated time: starts at `epoch` and moves only when advanced, never backwards."""

    mode = VIRTUAL

    def __init__(self, epoch: datetime = DEFAULT_EPOCH):
        super().__init__()
        self.epoch = epoch if epoch.tzinfo else epoch.replace(tzinfo=timezone.utc)
        self.offset = 0.0
        self.started = 0.0
        self._waiters: list[tuple[float, int, asyncio.Future, asyncio.Task]] = []
        self._order = itertools.count()
        self._advancing = asyncio.Lock()

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.offset

    def next_wakeup(self) -> float | None:
        self._drop_cancelled()
        return self._waiters[0][0] if self._waiters else None

    def _drop_cancelled(self) -> None:
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        task = this_task()
        # Equal targets wake in the order they went to sleep.
        heapq.heappush(self._waiters, (self.offset + seconds, next(self._order), future, task))
        self._sleeping.add(task)
        try:
            await future  # a cancelled sleeper's future is cancelled too, and skipped when its time comes
        finally:
            self._sleeping.discard(task)

    async def advance_to(self, target: float) -> None:
        """Moves to `target` seconds, waking every sleeper due by then in order of its target."""
        if target < self.offset:
            raise ClockError(f"the clock is at {self.offset:g}s and cannot go back to {target:g}s")
        async with self._advancing:
            if target < self.offset:  # another advance went further while this one waited
                return
            while True:
                self._drop_cancelled()
                if not self._waiters or self._waiters[0][0] > target:
                    break
                due, _, future, task = heapq.heappop(self._waiters)
                self.offset = max(self.offset, due)
                # Awake from now on, not from when it next runs: it has work to do.
                self._sleeping.discard(task)
                future.set_result(None)
                for _ in range(_TURNS_PER_WAKE):
                    await asyncio.sleep(0)
            self.offset = target

    async def hold_at(self, target: float) -> None:
        """Moves to `target` seconds, or to the earliest sleeper's wake time if that is sooner, waking
        nobody: the first half of moving several parties' clocks together. Once every party's time is
        there, `advance_to(target)` wakes the sleepers, and what they send reaches parties already at
        their time rather than one still behind (which would take it at an earlier time)."""
        if target < self.offset:
            raise ClockError(f"the clock is at {self.offset:g}s and cannot go back to {target:g}s")
        async with self._advancing:
            due = self.next_wakeup()
            self.offset = max(self.offset, target if due is None else min(target, due))

    async def advance_by(self, seconds: float) -> None:
        if seconds < 0:
            raise ClockError(f"cannot advance by a negative {seconds:g}s")
        await self.advance_to(self.offset + seconds)


SYSTEM_CLOCK = Clock()

_current: ContextVar[Clock] = ContextVar("party_clock", default=SYSTEM_CLOCK)


def party_clock() -> Clock:
    """The clock of the party handling the current request (the system clock outside any party)."""
    return _current.get()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


def make_clock(mode: str, epoch: datetime = DEFAULT_EPOCH) -> Clock:
    if mode == VIRTUAL:
        return VirtualClock(epoch)
    if mode == SYSTEM:
        return Clock()
    raise ValueError(f"clock must be {SYSTEM} or {VIRTUAL}, not {mode!r}")
