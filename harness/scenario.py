"""Scenario files: seed, delivery mode, workload and fault plan of a run, in YAML or JSON.

    seed: 7
    delivery: fire-and-forget        # or: reliable
    workload: {bookings: 1000, arrival: {process: poisson, per_hour: 100}}   # arrival: closed by default
    clock: {mode: virtual}           # or system (the default); docs/clock.md
    faults:
      - {link: "broker->pas:*", event: booking-request, action: drop, probability: 0.57}
    expect:                          # optional: `testbed run` exits 1 when the run misses any of these
      error_rate: {min: 0.52, max: 0.62}             # end to end: bookings the parties disagree on
      discrepancies: {missing_at_pas: {min: 1}, slot_mismatch: {max: 0}, total: {max: 700}}
      links: {"broker->pas:*": {max: 0.7}, "broker->spine#booking-request": {max: 0}}
      score: {precision: {min: 1.0}, recall: {min: 1.0}}   # the reconciler against the journal
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from booking_broker.faults.actions import build
from booking_broker.faults.rules import FaultRule
from party_common.clock import DEFAULT_EPOCH
from party_common.settings import UtcDatetime

from .arrivals import ArrivalSpec


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line naming the field at fault."""


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bookings: int = Field(100, ge=1)
    concurrency: int = Field(8, ge=1, le=256)
    arrival: ArrivalSpec = Field(default_factory=ArrivalSpec)


class ClockSpec(BaseModel):
    """Whose time the run's parties keep: the machine's, or a virtual clock the harness advances."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["system", "virtual"] = "system"
    epoch: UtcDatetime = DEFAULT_EPOCH


class Receivers(BaseModel):
    """How the trust, spine and GP systems of an embedded stack behave."""

    model_config = ConfigDict(extra="forbid")
    dedupe: bool = True


class RateBound(BaseModel):
    """A rate (0..1) must lie within [min, max]; either end may be left open."""

    model_config = ConfigDict(extra="forbid")
    min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class CountBound(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class DiscrepancyBounds(BaseModel):
    """Counts of each discrepancy kind (harness/reconcile/kinds.py), and `total` over all kinds."""

    model_config = ConfigDict(extra="forbid")
    missing_at_pas: CountBound | None = None
    missing_at_broker: CountBound | None = None
    status_mismatch: CountBound | None = None
    slot_mismatch: CountBound | None = None
    duplicate_at_pas: CountBound | None = None
    missing_at_spine: CountBound | None = None
    missing_at_gp: CountBound | None = None
    total: CountBound | None = None


class ScoreBounds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    precision: RateBound | None = None
    recall: RateBound | None = None


class Expectations(BaseModel):
    """What a run must come to; `testbed run` exits 1 and says which when it does not."""

    model_config = ConfigDict(extra="forbid")
    error_rate: RateBound | None = None
    discrepancies: DiscrepancyBounds | None = None
    # Per-link delivery error rates: a link glob, or `glob#event-glob` for one event on each link.
    links: dict[str, RateBound] = Field(default_factory=dict)
    score: ScoreBounds | None = None

    @field_validator("links")
    @classmethod
    def _globs(cls, value: dict[str, RateBound]):
        for glob in value:
            if not glob.strip() or glob.startswith("#"):
                raise ValueError(f"{glob!r} is not a link glob (e.g. 'broker->pas:*' or 'broker->pas:*#booking-request')")
        return value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    seed: int = 1
    delivery: Literal["fire-and-forget", "reliable"] = "fire-and-forget"
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    receivers: Receivers = Field(default_factory=Receivers)
    clock: ClockSpec = Field(default_factory=ClockSpec)
    faults: list[FaultRule] = Field(default_factory=list)
    expect: Expectations | None = None

    def fault_plan(self) -> dict:
        return {"seed": self.seed, "rules": [r.model_dump(by_alias=True, exclude_none=True) for r in self.faults]}


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "scenario"


def parse_scenario(data, source: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: must be a mapping of seed, delivery, workload, faults")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(f"{source}: {_where(tuple(err.get('loc', ())))}: {err.get('msg')}") from None
    for i, rule in enumerate(scenario.faults):
        try:
            build(rule.action, rule.params)
        except ValueError as exc:
            raise ScenarioError(f"{source}: faults[{i}]: {exc}") from None
    return scenario


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{path}: not valid YAML or JSON{where}") from None
    return parse_scenario(data, str(path))
