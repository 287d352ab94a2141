"""The fault actions, each one small unit registered by name (as Toxiproxy's toxics are).

An action receives the attempt (the message, the real send, the clock, a parameter stream) and
returns what the sender experiences. Parameters are validated when a rule is added, so a bad rule is
refused at once rather than failing mid-run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from party_common.clock import Clock
from party_common.outcome import FhirError

from ..outcomes import FAILED, HELD, REJECTED, TIMEOUT, UNREACHABLE, Delivery


@dataclass
class Attempt:
    link: str
    event: str
    body: dict | None
    send: Callable[..., Awaitable[Delivery]]      # the real delivery: send(content=None) -> Delivery
    clock: Clock
    rng: random.Random                             # for parameters (delays), never for decisions
    elapsed: float                                 # seconds since the engine started
    hold: Callable[[], None] = field(default=lambda: None)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Action:
    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: dict[str, Any]):
        self.params = self.Params.model_validate(params)

    def active(self, elapsed: float) -> bool:
        """Whether the action applies at this moment (outages flap); most always do."""
        return True

    async def apply(self, attempt: Attempt) -> Delivery:
        raise NotImplementedError


REGISTRY: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    REGISTRY[cls.name] = cls
    return cls


class UnknownAction(ValueError):
    pass


def build(name: str, params: dict[str, Any]) -> Action:
    cls = REGISTRY.get(name)
    if cls is None:
        raise UnknownAction(f"unknown action {name!r}; known: {', '.join(sorted(REGISTRY))}")
    try:
        return cls(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "params"
        raise ValueError(f"{name}: {where}: {first.get('msg')}") from None


def _not_sent(attempt: Attempt, outcome: str, status: int | None = None, body: dict | None = None) -> Delivery:
    return Delivery(attempt.link, attempt.event, outcome, status, body, 0.0, delivered=False)


@register
class Drop(Action):
    """Never delivered; the sender hears nothing, as if it timed out."""

    name = "drop"

    async def apply(self, attempt):
        return _not_sent(attempt, TIMEOUT)


@register
class LoseAck(Action):
    """Delivered and processed; the answer is lost, so the sender sees a timeout."""

    name = "lose-ack"

    async def apply(self, attempt):
        real = await attempt.send()
        return Delivery(attempt.link, attempt.event, TIMEOUT, None, None, real.latency_ms,
                        delivered=real.delivered)


class DelayParams(Params):
    ms: float = Field(0, ge=0, description="fixed delay")
    jitter_ms: float = Field(0, ge=0, description="plus a uniform 0..jitter_ms")
    median_ms: float | None = Field(None, gt=0, description="lognormal delay with this median")
    sigma: float = Field(0.5, gt=0, description="lognormal shape")


@register
class Delay(Action):
    name = "delay"
    Params = DelayParams

    def delay_seconds(self, rng: random.Random) -> float:
        p = self.params
        ms = p.ms + (rng.uniform(0, p.jitter_ms) if p.jitter_ms else 0)
        if p.median_ms:
            ms += rng.lognormvariate(math.log(p.median_ms), p.sigma)
        return ms / 1000

    async def apply(self, attempt):
        await attempt.clock.sleep(self.delay_seconds(attempt.rng))
        return await attempt.send()


class DuplicateParams(Params):
    copies: int = Field(2, ge=2, le=20, description="how many times the message is delivered")


@register
class Duplicate(Action):
    name = "duplicate"
    Params = DuplicateParams

    async def apply(self, attempt):
        first = await attempt.send()
        for _ in range(self.params.copies - 1):
            await attempt.send(copy=True)
        return first


class ReorderParams(Params):
    max_hold_ms: float = Field(2000, ge=0, description="released after this long if no other message comes")


@register
class Reorder(Action):
    """Held back and released after the next message on the link; the sender hears nothing yet."""

    name = "reorder"
    Params = ReorderParams

    async def apply(self, attempt):
        attempt.hold()
        return _not_sent(attempt, HELD)


@register
class Corrupt(Action):
    """The body is mangled in transit (cut short), so the receiver must reject it."""

    name = "corrupt"

    async def apply(self, attempt):
        import orjson

        raw = orjson.dumps(attempt.body) if attempt.body is not None else b"{}"
        return await attempt.send(content=raw[: max(1, len(raw) // 2)])


class ErrorParams(Params):
    status: int = Field(503, ge=400, le=599)
    code: str = "transient"


@register
class Error(Action):
    """Answered with an HTTP error and an OperationOutcome, without reaching the receiver."""

    name = "error"
    Params = ErrorParams

    async def apply(self, attempt):
        p = self.params
        # Coded as the receiver's own answer would be (REC_ for the status), which it stands in for.
        body = FhirError(p.status, p.code, f"injected fault on {attempt.link}: HTTP {p.status}").outcome()
        return _not_sent(attempt, REJECTED if p.status < 500 else FAILED, p.status, body)


class TimeoutParams(Params):
    after_ms: float = Field(0, ge=0, description="how long the sender waits before giving up")


@register
class Timeout(Action):
    """The sender waits and gives up; the receiver never got the message."""

    name = "timeout"
    Params = TimeoutParams

    async def apply(self, attempt):
        await attempt.clock.sleep(self.params.after_ms / 1000)
        return _not_sent(attempt, TIMEOUT)


class OutageParams(Params):
    period_s: float | None = Field(None, gt=0, description="flapping: one cycle lasts this long")
    duty: float = Field(0.5, gt=0, le=1, description="flapping: the share of each cycle that is down")


@register
class Outage(Action):
    """The far side is unreachable: inside the rule's window, or flapping with a period and duty."""

    name = "outage"
    Params = OutageParams

    def active(self, elapsed: float) -> bool:
        p = self.params
        if p.period_s is None:
            return True
        return (elapsed % p.period_s) < p.duty * p.period_s

    async def apply(self, attempt):
        return _not_sent(attempt, UNREACHABLE)
