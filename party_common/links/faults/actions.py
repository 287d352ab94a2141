"""The fault actions, each one small unit registered by name (as Toxiproxy's toxics are).

An action receives the attempt (the message, the real send, the clock, a parameter stream) and
returns what the sender experiences. Parameters are validated when a rule is added, so a bad rule is
refused at once rather than failing mid-run; each action's parameters are declared with the rule
model (party_common/fault_rules.py), which scenario files are checked against too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from party_common.clock import Clock
from party_common.fault_rules import (
    ACTION_PARAMS,
    DelayParams,
    DuplicateParams,
    ErrorParams,
    OutageParams,
    Params as BaseParams,
    ReorderParams,
    TimeoutParams,
    UnknownAction,
    action_params,
)
from party_common.outcome import FhirError

from party_common.links.outcomes import FAILED, HELD, REJECTED, TIMEOUT, UNREACHABLE, Delivery


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


class Action:
    name: ClassVar[str]
    # Each action names its Params model, and narrows `params` to it, which __init__ makes.
    Params: ClassVar[type[BaseParams]] = BaseParams
    params: BaseParams

    def __init__(self, params: dict[str, Any] | BaseParams):
        self.params = self.Params.model_validate(params)

    def active(self, elapsed: float) -> bool:
        """Whether the action applies at this moment (outages flap); most always do."""
        return True

    async def apply(self, attempt: Attempt) -> Delivery:
        raise NotImplementedError


REGISTRY: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    # An action takes exactly the parameters the rule model declares for its name.
    if ACTION_PARAMS.get(cls.name) is not cls.Params:
        raise TypeError(f"action {cls.name!r} takes other parameters than party_common.fault_rules declares")
    REGISTRY[cls.name] = cls
    return cls


def build(name: str, params: dict[str, Any]) -> Action:
    checked = action_params(name, params)
    cls = REGISTRY.get(name)
    if cls is None:
        raise UnknownAction(f"action {name!r} is declared but not implemented")
    return cls(checked)


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


@register
class Delay(Action):
    name = "delay"
    Params = DelayParams
    params: DelayParams

    def delay_seconds(self, rng: random.Random) -> float:
        p = self.params
        ms = p.ms + (rng.uniform(0, p.jitter_ms) if p.jitter_ms else 0)
        if p.median_ms:
            ms += rng.lognormvariate(math.log(p.median_ms), p.sigma)
        return ms / 1000

    async def apply(self, attempt):
        await attempt.clock.sleep(self.delay_seconds(attempt.rng))
        return await attempt.send()


@register
class Duplicate(Action):
    name = "duplicate"
    Params = DuplicateParams
    params: DuplicateParams

    async def apply(self, attempt):
        first = await attempt.send()
        for _ in range(self.params.copies - 1):
            await attempt.send(copy=True)
        return first


@register
class Reorder(Action):
    """Held back and released after the next message on the link; the sender hears nothing yet."""

    name = "reorder"
    Params = ReorderParams
    params: ReorderParams

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


@register
class Error(Action):
    """Answered with an HTTP error and an OperationOutcome, without reaching the receiver."""

    name = "error"
    Params = ErrorParams
    params: ErrorParams

    async def apply(self, attempt):
        p = self.params
        # Coded as the receiver's own answer would be (REC_ for the status), which it stands in for.
        body = FhirError(p.status, p.code, f"injected fault on {attempt.link}: HTTP {p.status}").outcome()
        return _not_sent(attempt, REJECTED if p.status < 500 else FAILED, p.status, body)


@register
class Timeout(Action):
    """The sender waits and gives up; the receiver never got the message."""

    name = "timeout"
    Params = TimeoutParams
    params: TimeoutParams

    async def apply(self, attempt):
        await attempt.clock.sleep(self.params.after_ms / 1000)
        return _not_sent(attempt, TIMEOUT)


@register
class Outage(Action):
    """The far side is unreachable: inside the rule's window, or flapping with a period and duty."""

    name = "outage"
    Params = OutageParams
    params: OutageParams

    def active(self, elapsed: float) -> bool:
        p = self.params
        if p.period_s is None:
            return True
        return (elapsed % p.period_s) < p.duty * p.period_s

    async def apply(self, attempt):
        return _not_sent(attempt, UNREACHABLE)
