"""Scenario files: seed, delivery mode, workload and fault plan of a run, in YAML or JSON.

    seed: 7
    delivery: fire-and-forget        # or: reliable
    workload: {bookings: 1000}
    faults:
      - {link: "broker->pas:*", event: booking-request, action: drop, probability: 0.57}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from booking_broker.faults.actions import build
from booking_broker.faults.rules import FaultRule


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line naming the field at fault."""


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bookings: int = Field(100, ge=1)
    concurrency: int = Field(8, ge=1, le=256)


class Receivers(BaseModel):
    """How the trust, spine and GP systems of an embedded stack behave."""

    model_config = ConfigDict(extra="forbid")
    dedupe: bool = True


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    seed: int = 1
    delivery: Literal["fire-and-forget", "reliable"] = "fire-and-forget"
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    receivers: Receivers = Field(default_factory=Receivers)
    faults: list[FaultRule] = Field(default_factory=list)

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
