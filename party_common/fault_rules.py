"""A fault rule as it travels: which messages (link glob, event), what happens (action, with its
parameters), and when (plan, window).

The broker's fault engine runs these rules; scenario files and the `testbed faults` commands write
them. Both validate with the models here, so a scenario the harness accepts is one the broker
accepts, without the harness importing the broker. Each action's parameters are declared here
(ACTION_PARAMS); what an action does is the broker's (party_common/links/faults/actions.py).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Every(BaseModel):
    """k of every n matching messages, spread evenly (57 of every 100 is the 2006 error rate)."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(ge=0)
    n: int = Field(ge=1)

    @model_validator(mode="after")
    def _k_le_n(self):
        if self.k > self.n:
            raise ValueError("every.k must not exceed every.n")
        return self


class Window(BaseModel):
    """Seconds since the engine's start (or last reset), on the engine's clock."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: float = Field(0.0, ge=0, alias="from")
    end: float | None = Field(None, alias="to")

    def contains(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    link: str = Field(description="a link name or a glob over link names, e.g. broker->pas:*")
    event: str | None = Field(None, description="a message event (booking-request...) or a glob; any when absent")
    action: str
    probability: float | None = Field(None, ge=0, le=1)
    nth: list[int] | None = None
    every: Every | None = None
    window: Window | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_params(cls, data: Any):
        # Action parameters may be written inline ({action: delay, ms: 200}) as in the scenario files.
        if isinstance(data, dict):
            known = set(cls.model_fields) | {"from", "to"}
            extra = {k: v for k, v in data.items() if k not in known}
            if extra:
                data = {k: v for k, v in data.items() if k in known}
                data["params"] = {**data.get("params", {}), **extra}
        return data

    @model_validator(mode="after")
    def _one_plan(self):
        plans = [p for p in (self.probability, self.nth, self.every) if p is not None]
        if len(plans) > 1:
            raise ValueError("give at most one of probability, nth, every")
        if self.nth is not None and any(n < 1 for n in self.nth):
            raise ValueError("nth counts from 1")
        return self

    def matches(self, link: str, event: str) -> bool:
        if not fnmatch.fnmatchcase(link, self.link):
            return False
        return self.event is None or fnmatch.fnmatchcase(event, self.event)


class Params(BaseModel):
    """An action without parameters takes none."""

    model_config = ConfigDict(extra="forbid")


class DelayParams(Params):
    ms: float = Field(0, ge=0, description="fixed delay")
    jitter_ms: float = Field(0, ge=0, description="plus a uniform 0..jitter_ms")
    median_ms: float | None = Field(None, gt=0, description="lognormal delay with this median")
    sigma: float = Field(0.5, gt=0, description="lognormal shape")


class DuplicateParams(Params):
    copies: int = Field(2, ge=2, le=20, description="how many times the message is delivered")


class ReorderParams(Params):
    max_hold_ms: float = Field(2000, ge=0, description="released after this long if no other message comes")


class ErrorParams(Params):
    status: int = Field(503, ge=400, le=599)
    code: str = "transient"


class TimeoutParams(Params):
    after_ms: float = Field(0, ge=0, description="how long the sender waits before giving up")


class OutageParams(Params):
    period_s: float | None = Field(None, gt=0, description="flapping: one cycle lasts this long")
    duty: float = Field(0.5, gt=0, le=1, description="flapping: the share of each cycle that is down")


# Every action a rule may name, and the parameters it takes (docs/faults.md describes each).
ACTION_PARAMS: dict[str, type[Params]] = {
    "drop": Params,
    "lose-ack": Params,
    "delay": DelayParams,
    "duplicate": DuplicateParams,
    "reorder": ReorderParams,
    "corrupt": Params,
    "error": ErrorParams,
    "timeout": TimeoutParams,
    "outage": OutageParams,
}


class UnknownAction(ValueError):
    pass


def action_params(name: str, params: dict[str, Any]) -> Params:
    """The action's parameters, validated; raises UnknownAction or ValueError naming the parameter."""
    schema = ACTION_PARAMS.get(name)
    if schema is None:
        raise UnknownAction(f"unknown action {name!r}; known: {', '.join(sorted(ACTION_PARAMS))}")
    try:
        return schema.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "params"
        raise ValueError(f"{name}: {where}: {first.get('msg')}") from None
