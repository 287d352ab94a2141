"""`GET /clock` and `POST /clock/advance`: how a harness reads and moves a party's virtual clock."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.clock import Clock, ClockError, VirtualClock
from party_common.control_auth import require_control_token
from party_common.fhir_json import read_json_body
from party_common.outcome import FhirError, invalid


def _clock(request: Request) -> Clock:
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(_clock)]

router = APIRouter()


def clock_state(clock: Clock) -> dict:
    return {
        "mode": clock.mode,
        "now": clock.now().isoformat().replace("+00:00", "Z"),
        "elapsed_s": round(clock.elapsed(), 6),
        "next_wakeup_s": clock.next_wakeup(),
        "sleepers": clock.sleepers,
        "busy": clock.busy,
        "calls": {"sent": clock.calls_sent, "unreached": clock.calls_unreached, "received": clock.calls_received,
                  "answered": clock.calls_answered, "answers": clock.answers_received},
    }


@router.get("/clock")
async def read_clock(clock: ClockDep):
    return clock_state(clock)


def _seconds(body: dict, field: str) -> float:
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"{field} must be a number of seconds", field)
    return float(value)


@router.post("/clock/advance", dependencies=[Depends(require_control_token)])
async def advance_clock(request: Request, clock: ClockDep):
    body = await read_json_body(request)
    if not isinstance(clock, VirtualClock):
        raise FhirError(409, "business-rule",
                        "this party runs on the system clock, which only real time moves; start it with "
                        "{PREFIX}_CLOCK=virtual to advance it")
    if not isinstance(body, dict):
        raise invalid('body must be a JSON object: {"to_s": seconds} or {"by_s": seconds}')
    given = [f for f in ("to_s", "by_s") if f in body]
    unknown = sorted(set(body) - {"to_s", "by_s", "wake"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}: give to_s or by_s (and wake)", unknown[0])
    wake = body.get("wake", True)
    if not isinstance(wake, bool):
        raise invalid("wake must be true or false", "wake")
    if len(given) != 1:
        raise invalid("give exactly one of to_s (seconds since the clock started) or by_s (seconds to add)",
                      "to_s" if not given else given[1])
    field = given[0]
    seconds = _seconds(body, field)
    try:
        target = seconds if field == "to_s" else clock.offset + seconds
        if field == "by_s" and seconds < 0:
            raise ClockError(f"cannot advance by a negative {seconds:g}s")
        await (clock.advance_to(target) if wake else clock.hold_at(target))
    except ClockError as exc:
        raise invalid(str(exc), field) from None
    return clock_state(clock)
