"""A fault rule: which messages (link glob, event), what happens (action), and when (plan, window)."""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
