"""What practices do after booking: cancel some bookings through their `$cancel`, and book some again.

Which bookings are cancelled and rebooked is a function of the seed and the booking's index alone, so a
scenario rerun picks the same ones. Follow-ups start once the bookings have drained: a practice
cancels an appointment it holds, not one still on its way to the trust.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import httpx

from harness.run.workload import HEADERS, BookingResult, Workload, _ubrn_of, correlation_id, request_id


@dataclass
class FollowUp:
    index: int              # the booking's index in the workload
    action: str             # cancel | rebook
    ubrn: str               # the booking cancelled, or the new booking made
    outcome: str            # accepted | refused | unavailable | error
    status: int | None
    latency_ms: float
    detail: str | None = None

    def as_json(self) -> dict:
        return asdict(self)


def chosen(seed: int, index: int, what: str, fraction: float) -> bool:
    return fraction > 0 and random.Random(f"{seed}:{what}:{index}").random() < fraction


def _outcome(status: int | None) -> str:
    if status == 200:
        return "accepted"
    if status is None:
        return "error"
    return "unavailable" if status >= 500 else "refused"


def _detail(r: httpx.Response) -> str | None:
    try:
        return (r.json().get("issue") or [{}])[0].get("diagnostics")
    except (ValueError, AttributeError):
        return r.text[:200]


class _Planned(NamedTuple):
    ubrn: str
    referral_id: str


def _planned(booking: BookingResult) -> _Planned:
    """What a follow-up needs of a booking `FollowUps.planned` chose, which has both."""
    if not booking.ubrn or not booking.referral_id:
        raise ValueError(f"booking {booking.index} has no UBRN or no referral to follow up")
    return _Planned(booking.ubrn, booking.referral_id)


class FollowUps:
    def __init__(self, workload: Workload, cancellations: float, rebookings: float):
        self.workload = workload
        self.cancellations = cancellations
        self.rebookings = rebookings

    def planned(self, results: list[BookingResult]) -> list[BookingResult]:
        return [r for r in results if r.ubrn and r.referral_id
                and chosen(self.workload.seed, r.index, "cancel", self.cancellations)]

    async def cancel(self, client: httpx.AsyncClient, booking: BookingResult) -> FollowUp:
        ubrn = _planned(booking).ubrn
        gp = f"{self.workload.urls.gp}/{booking.practice}"
        correlation = correlation_id(self.workload.run_id, f"{booking.index:07d}-cancel")
        headers = {**HEADERS, "X-Correlation-ID": correlation}
        started = time.perf_counter()
        try:
            # A request id of the seed's making, so a rerun of the scenario journals the same messages.
            key = request_id(self.workload.seed, self.workload.id_salt, f"cancel:{booking.index}", 1)
            params = {"resourceType": "Parameters", "parameter": [{"name": "requestId", "valueString": key}]}
            r = await client.post(f"{gp}/Appointment/{ubrn}/$cancel", json=params, headers=headers)
        except httpx.HTTPError as exc:
            return FollowUp(booking.index, "cancel", ubrn, "error", None, _ms(started),
                            f"{type(exc).__name__}: {exc}")
        return FollowUp(booking.index, "cancel", ubrn, _outcome(r.status_code), r.status_code,
                        _ms(started), None if r.status_code == 200 else _detail(r))

    async def rebook(self, client: httpx.AsyncClient, booking: BookingResult) -> FollowUp:
        """The same referral booked again, as a practice does after its patient cancelled."""
        w = self.workload
        practice, _nhs, service, _specialty, earliest = w.plan(booking.index)
        gp = f"{w.urls.gp}/{practice}"
        headers = {**HEADERS, "X-Correlation-ID": correlation_id(w.run_id, f"{booking.index:07d}-rebook")}
        started = time.perf_counter()
        try:
            r, _attempts = await w.request_booking(client, gp, _planned(booking).referral_id, service, earliest, headers,
                                                   key=f"rebook:{booking.index}")
        except httpx.HTTPError as exc:
            return FollowUp(booking.index, "rebook", "", "error", None, _ms(started), f"{type(exc).__name__}: {exc}")
        ubrn = _ubrn_of(r) if r.status_code == 200 else None
        outcome = "accepted" if ubrn else _outcome(r.status_code if r.status_code != 200 else None)
        return FollowUp(booking.index, "rebook", ubrn or "", outcome, r.status_code, _ms(started),
                        None if ubrn else _detail(r))

    async def run(self, client: httpx.AsyncClient, results: list[BookingResult],
                  settle: Callable[[], Awaitable[object]]) -> list[FollowUp]:
        """Cancels, waits for `settle` (the cancellations delivered), then rebooks some of the cancelled."""
        limit = asyncio.Semaphore(max(1, self.workload.concurrency))

        async def limited(step, booking: BookingResult) -> FollowUp:
            async with limit:
                return await step(client, booking)

        planned = self.planned(results)
        cancels = await asyncio.gather(*(limited(self.cancel, b) for b in planned))
        if not cancels:
            return []
        # A practice holds a cancellation as requested until the broker confirms it (reliable delivery
        # confirms after the trust has it), and will not book the referral again before then.
        await settle()
        again = [b for b, c in zip(planned, cancels)
                 if c.outcome == "accepted" and chosen(self.workload.seed, b.index, "rebook", self.rebookings)]
        rebooks = await asyncio.gather(*(limited(self.rebook, b) for b in again))
        if rebooks:
            await settle()
        return [*cancels, *rebooks]


def summarise(followups: list[FollowUp]) -> dict:
    out: dict[str, dict[str, int]] = {"cancel": {}, "rebook": {}}
    for f in followups:
        out[f.action][f.outcome] = out[f.action].get(f.outcome, 0) + 1
    return {"cancellations": out["cancel"], "rebookings": out["rebook"]}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
