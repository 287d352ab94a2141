"""Moves the virtual clocks of all the parties together, through their `/clock` endpoints: the four
of every stack, and the middleware and legacy PAS of a stack with legacy trusts.

The parties keep a clock each (they are separate processes); the driver keeps them at one time:
it aligns them to the furthest at the start and only ever moves them forward, all to the same
second. The receivers move first, then the middleware, and the broker last, so when a sender's
sleepers wake and send (the broker's to every party, the middleware's resends to the legacy PAS),
the parties they send to are already at the time they are sent at.

The harness takes part too: its bookings call the parties, and between two calls of one booking (a
referral made, its `$book` not yet sent) the work is the harness's own. `harness_activity()` gives
the run's client a clock of the harness's to count on, and the driver reads it with the parties'.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from party_common.clock import Clock
from party_common.http_client import CallingOutTransport

from harness.stack.embedded import StackError
from harness.stack.endpoints import StackUrls

# Moved in stages, each after the one before: the receivers together, then the middleware (its
# sleepers resend to the legacy PAS), the broker last (its sleepers, fault delays and retries, send
# to all the others). Parties a stack does not have are left out.
_STAGES = (("spine", "legacy_pas", "pas", "gp"), ("middleware",), ("broker",))


def harness_activity(transport: httpx.AsyncBaseTransport) -> tuple[Clock, httpx.AsyncBaseTransport]:
    """The harness's own clock of work (its bookings, `ClockDriver.booking`) and `transport` made to
    count the harness's calls on it, as a party's client counts its own: the parties count them at
    their end, so a request or answer between the harness and a party is seen on the wire."""
    activity = Clock()
    return activity, CallingOutTransport(transport, activity)


class ClockDriver:
    def __init__(self, client: httpx.AsyncClient, urls: StackUrls, activity: Clock | None = None):
        self.client = client
        self.urls = {name: url for stage in _STAGES for name in stage if (url := getattr(urls, name))}
        self.stages = [[n for n in stage if n in self.urls] for stage in _STAGES]
        self.at = 0.0  # seconds since the clocks started, as far as this driver has moved them
        self.written_off = 0  # calls on the wire that never arrived: not waited for twice
        # The harness's own work, when its client counts its calls (harness_activity).
        self.activity = activity

    def booking(self):
        """Around one booking the harness drives: its work, but while one of its calls is out."""
        return self.activity.working() if self.activity is not None else contextlib.nullcontext()

    async def _call(self, name: str, method: str, body: dict | None = None) -> dict:
        path = "/clock/advance" if method == "POST" else "/clock"
        try:
            r = await self.client.request(method, f"{self.urls[name]}{path}", json=body)
        except httpx.HTTPError as exc:
            raise StackError(f"cannot reach the {name}'s clock: {exc}") from exc
        if r.status_code != 200:
            try:
                detail = (r.json().get("issue") or [{}])[0].get("diagnostics", r.text[:200])
            except ValueError:
                detail = r.text[:200]
            raise StackError(f"the {name} refused {method} {path} (HTTP {r.status_code}): {detail}")
        return r.json()

    async def states(self) -> dict[str, dict]:
        names = list(self.urls)
        found = await asyncio.gather(*(self._call(name, "GET") for name in names))
        return dict(zip(names, found))

    async def start(self) -> float:
        """Checks every party is on a virtual clock and brings them all to the furthest one's time."""
        states = await self.states()
        system = [name for name, s in states.items() if s["mode"] != "virtual"]
        if system:
            raise StackError(f"the scenario asks for a virtual clock, but the {', '.join(system)} "
                             f"{'runs' if len(system) == 1 else 'run'} on the system clock "
                             "(start the stack with the scenario, or with {PREFIX}_CLOCK=virtual)")
        self.at = max(s["elapsed_s"] for s in states.values())
        await self._advance_all(self.at)
        return self.at

    async def _advance_all(self, seconds: float) -> None:
        # Every party's time moves first, waking nobody; then each stage wakes its sleepers. Woken
        # in stages alone, a receiver's sleeper (the legacy PAS's ACK delay) answered a sender
        # whose clock was still behind, which acted on it at the earlier time (its ACK timeout then
        # counted from there and fired before the next ACK came).
        await asyncio.gather(*(self._call(name, "POST", {"to_s": seconds, "wake": False}) for name in self.urls))
        for stage in self.stages:
            await asyncio.gather(*(self._call(name, "POST", {"to_s": seconds}) for name in stage))

    async def advance_to(self, seconds: float) -> None:
        """Every party to `seconds` (never backwards: an earlier time is a no-op)."""
        if seconds <= self.at:
            return
        await self._advance_all(seconds)
        self.at = seconds

    async def settled(self, poll_s: float = 0.005, timeout_s: float = 60.0,
                      wire_patience_s: float = 0.5) -> dict[str, dict]:
        """The parties' clock states once none reports work under way that is not waiting on its
        clock (`busy`), nor does the harness, and no call between them (the harness's included) is
        on the wire either way, as a request or as an answer: what is left then can only move when
        time does.

        A call on the wire is waited for at most `wire_patience_s` of real time without anything
        moving (no party busy, no call counted anywhere): one whose sender gave up after writing it
        may never be counted by its receiver, nor an answer by a caller that gave up. The patience
        starts again whenever something moves, so a burst of calls that takes a loaded machine
        longer than that to work through (each arriving, answered, read in turn) is not written off
        while it is still arriving, and time does not move under it.
        """
        deadline = time.monotonic() + timeout_s
        wire_deadline: float | None = None
        seen: tuple[int, ...] | None = None
        while True:
            states = await self.states()
            # Read after the parties: work the harness handed them since is on the wire or theirs.
            counted = {**states, "harness": self.own_state(self.activity)} if self.activity is not None else states
            busy = [name for name, s in counted.items() if s.get("busy")]
            moved = call_counts(counted)
            if busy or moved != seen:
                wire_deadline, seen = None, moved
            if not busy:
                on_wire = in_transit(counted)
                self.written_off = min(self.written_off, on_wire)
                if on_wire <= self.written_off:
                    return states
                wire_deadline = wire_deadline or time.monotonic() + wire_patience_s
                if time.monotonic() > wire_deadline:
                    self.written_off = on_wire  # lost for good: not to be waited for again
                    return states
            if time.monotonic() > deadline:
                raise StackError(f"the {', '.join(busy)} stayed busy for {timeout_s:.0f}s of real time")
            await asyncio.sleep(poll_s)

    @staticmethod
    def own_state(a: Clock) -> dict:
        """The harness's work and calls (`a`, its activity), in the form of a party's `GET /clock`
        (no clock to move)."""
        return {"busy": a.busy, "next_wakeup_s": None,
                "calls": {"sent": a.calls_sent, "unreached": a.calls_unreached, "received": a.calls_received,
                          "answered": a.calls_answered, "answers": a.answers_received}}

    async def next_wakeup(self) -> float | None:
        """The earliest moment any party has a sleeper waiting for, once the parties are settled;
        None when none sleeps."""
        return earliest_wakeup(await self.settled())


async def refuse_virtual_stack(client: httpx.AsyncClient, urls: StackUrls) -> None:
    """A run on the system clock against parties on virtual time would wait forever on any delay:
    refused up front. A broker without /clock (a real one) keeps real time."""
    try:
        r = await client.get(f"{urls.broker}/clock")
        mode = r.json().get("mode") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        mode = None
    if mode == "virtual":
        raise StackError("the stack runs on a virtual clock: give the scenario clock: {mode: virtual}")


def in_transit(states: dict[str, dict]) -> int:
    """Calls one party has sent another that the other has not yet received, and answers one has
    given that their caller has not yet read.

    Each direction on its own: a caller reads an answer a moment before its callee counts it given,
    and that callee is busy meanwhile, but the excess must not hide another answer still on the wire.
    """
    calls = [s.get("calls") or {} for s in states.values()]
    sent = sum(c.get("sent", 0) - c.get("unreached", 0) for c in calls)
    requests = sent - sum(c.get("received", 0) for c in calls)
    answers = sum(c.get("answered", 0) for c in calls) - sum(c.get("answers", 0) for c in calls)
    return max(0, requests) + max(0, answers)


def call_counts(states: dict[str, dict]) -> tuple[int, ...]:
    """Every party's call counters, in one tuple: when it changes, a call has moved on."""
    return tuple(int((s.get("calls") or {}).get(key, 0)) for s in states.values()
                 for key in ("sent", "unreached", "received", "answered", "answers"))


def earliest_wakeup(states: dict[str, dict]) -> float | None:
    wakeups = [s["next_wakeup_s"] for s in states.values() if s["next_wakeup_s"] is not None]
    return min(wakeups) if wakeups else None
