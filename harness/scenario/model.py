"""Scenario files: seed, delivery, population, workload, receivers, fault plan and expectations of a
run, in YAML or JSON (every field: docs/scenarios.md).

    seed: 7
    delivery: fire-and-forget        # or: reliable
    population: {practices: 4, patients_per_practice: 500, trusts: [RT1, RT2, RT3, RT4]}
    workload: {bookings: 1000, arrival: {process: poisson, per_hour: 100},   # arrival: closed by default
               cancellations: 0.1, rebookings: 0.5}
    receivers: {dedupe: true, sites: {RT102: {unavailable: 0.4, delay_ms: 50}}}
    clock: {mode: virtual}           # or system (the default); docs/clock.md
    outbox: {max_backoff_s: 60}       # reliable delivery: longest wait between attempts (2 s)
    faults:
      - {link: "broker->pas:*", event: booking-request, action: drop, probability: 0.57}
    legacy:                          # optional: trusts whose PAS speaks HL7 v2 behind the middleware
      trusts: [RT4]                  # (docs/legacy-pas.md); each must be one of population.trusts
      middleware: {queue: memory, spine_lookup: true, crash_after_spine_failures: 1, restart_s: 30,
                   ack_timeout_s: 5, resends: 2}
      pas: {ack_delay_ms: 0}
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

from party_common.clock import DEFAULT_EPOCH
from party_common.fault_rules import FaultRule, action_params
from party_common.population import PRACTICES
from party_common.settings import UtcDatetime
from party_common.site_behaviour import SiteBehaviour
from party_common.trust_catalogue import DEFAULT_TRUSTS

from harness.cli.errors import UsageError
from harness.run.arrivals import ArrivalSpec

_PRACTICE_CODES = [code for code, _ in PRACTICES]
_TRUST_CODES = [t["ods"] for t in DEFAULT_TRUSTS]
_SITE_CODES = [site["code"] for t in DEFAULT_TRUSTS for site in t["sites"]]
MIDDLEWARE_LINKS = "middleware->"   # links the trust's middleware carries: its fault plan, not the broker's


class ScenarioError(UsageError, ValueError):
    """A scenario that cannot be used; the message is one line naming the field at fault."""


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bookings: int = Field(100, ge=1)
    concurrency: int = Field(8, ge=1, le=256)
    # Of the bookings the broker accepted, the fraction the practice later cancels through its
    # `$cancel`; of those cancelled, the fraction it books again (a new UBRN for the same referral).
    cancellations: float = Field(0.0, ge=0, le=1)
    rebookings: float = Field(0.0, ge=0, le=1)
    arrival: ArrivalSpec = Field(default_factory=ArrivalSpec)


class PopulationSpec(BaseModel):
    """Who books where: the practices that refer, their patients, the trusts that take the bookings.

    `practices` is a count (the first N practices the GP system hosts) or a list of their ODS codes.
    """

    model_config = ConfigDict(extra="forbid")
    practices: int | list[str] = Field(len(_PRACTICE_CODES))
    patients_per_practice: int = Field(500, ge=1, le=5000)
    trusts: list[str] = Field(default_factory=lambda: list(_TRUST_CODES), min_length=1)

    @field_validator("practices")
    @classmethod
    def _practices(cls, value: int | list[str]):
        if isinstance(value, int):
            if not 1 <= value <= len(_PRACTICE_CODES):
                raise ValueError(f"must be 1 to {len(_PRACTICE_CODES)} (the practices the GP system hosts)")
            return value
        _known(value, _PRACTICE_CODES, "practice")
        return value

    @field_validator("trusts")
    @classmethod
    def _trusts(cls, value: list[str]):
        _known(value, _TRUST_CODES, "trust")
        return value

    @property
    def practice_codes(self) -> list[str]:
        return _PRACTICE_CODES[: self.practices] if isinstance(self.practices, int) else list(self.practices)

    @property
    def population_size(self) -> int:
        # The GP system and the spine deal patients round the practices in turn (party_common/population.py).
        return self.patients_per_practice * len(_PRACTICE_CODES)


class _FieldItemError(ValueError):
    """One list item or mapping key at fault: parse_scenario names it as `field[i]` or `field.key`."""

    def __init__(self, index: int | str, message: str):
        super().__init__(message)
        self.index = index


def _known(values: list[str], known: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, code in enumerate(values):
        if code not in known:
            raise _FieldItemError(i, f"unknown {what} {code!r} (known: {', '.join(known)})")
        if code in seen:
            raise _FieldItemError(i, f"{what} {code!r} listed twice")
        seen.add(code)


class ClockSpec(BaseModel):
    """Whose time the run's parties keep: the machine's, or a virtual clock the harness advances."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["system", "virtual"] = "system"
    epoch: UtcDatetime = DEFAULT_EPOCH


class OutboxSpec(BaseModel):
    """How the broker's outbox retries under reliable delivery (BROKER_OUTBOX_MAX_BACKOFF_S)."""

    model_config = ConfigDict(extra="forbid")
    max_backoff_s: float | None = Field(None, gt=0)


class Receivers(BaseModel):
    """How the trust, spine and GP systems of an embedded stack behave."""

    model_config = ConfigDict(extra="forbid")
    dedupe: bool = True
    # Per-site behaviour of the trust PAS (party_common/site_behaviour.py), keyed by site code: how the
    # two sites of a merged trust can answer differently.
    sites: dict[str, SiteBehaviour] = Field(default_factory=dict)

    @field_validator("sites")
    @classmethod
    def _sites(cls, value: dict[str, SiteBehaviour]):
        for code in value:
            if code not in _SITE_CODES:
                raise _FieldItemError(code, f"unknown site {code!r} (known: {', '.join(_SITE_CODES)})")
        return value


class MiddlewareSpec(BaseModel):
    """How the trust's integration engine behaves (MIDDLEWARE_* settings, docs/legacy-pas.md)."""

    model_config = ConfigDict(extra="forbid")
    # memory: what is queued is lost when the engine restarts; persistent: store and forward.
    queue: Literal["memory", "persistent"] = "memory"
    spine_lookup: bool = False
    # After this many consecutive failed spine look-ups the engine restarts (0: never).
    crash_after_spine_failures: int = Field(0, ge=0)
    # The engine restarts when a message queued makes its queue this deep (0: never).
    crash_at_queue_depth: int = Field(0, ge=0)
    restart_s: float = Field(30.0, ge=0)
    ack_timeout_s: float = Field(5.0, gt=0)
    resends: int = Field(2, ge=0, le=100)


class LegacyPasSpec(BaseModel):
    """How the legacy PAS behaves (LEGACY_PAS_* settings)."""

    model_config = ConfigDict(extra="forbid")
    # How long it takes to answer a booking, on its clock: the slow interim PAS.
    ack_delay_ms: float = Field(0.0, ge=0)


class LegacySpec(BaseModel):
    """Trusts whose PAS speaks HL7 v2 over MLLP behind the trust's middleware, and how both behave."""

    model_config = ConfigDict(extra="forbid")
    trusts: list[str] = Field(min_length=1)
    middleware: MiddlewareSpec = Field(default_factory=MiddlewareSpec)
    pas: LegacyPasSpec = Field(default_factory=LegacyPasSpec)

    @field_validator("trusts")
    @classmethod
    def _trusts(cls, value: list[str]):
        _known(value, _TRUST_CODES, "trust")
        return value

    def middleware_env(self) -> dict[str, str]:
        m = self.middleware
        return {"MIDDLEWARE_QUEUE": m.queue, "MIDDLEWARE_SPINE_LOOKUP": "true" if m.spine_lookup else "false",
                "MIDDLEWARE_CRASH_AFTER_SPINE_FAILURES": str(m.crash_after_spine_failures),
                "MIDDLEWARE_CRASH_AT_QUEUE_DEPTH": str(m.crash_at_queue_depth),
                "MIDDLEWARE_RESTART_S": str(m.restart_s), "MIDDLEWARE_ACK_TIMEOUT_S": str(m.ack_timeout_s),
                "MIDDLEWARE_RESENDS": str(m.resends)}


class _Bound(BaseModel):
    """A range [min, max] either end of which may be left open, but not both (subclasses type them)."""

    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class RateBound(_Bound):
    """A rate (0..1) must lie within [min, max]; either end may be left open."""

    min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)


class CountBound(_Bound):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


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
    referral_missing_at_pas: CountBound | None = None
    referral_missing_at_broker: CountBound | None = None
    duplicate_referral_at_pas: CountBound | None = None
    referral_unanswered_at_gp: CountBound | None = None
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
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    receivers: Receivers = Field(default_factory=Receivers)
    outbox: OutboxSpec = Field(default_factory=OutboxSpec)
    clock: ClockSpec = Field(default_factory=ClockSpec)
    faults: list[FaultRule] = Field(default_factory=list)
    legacy: LegacySpec | None = None
    expect: Expectations | None = None

    @model_validator(mode="after")
    def _legacy_in_population(self):
        if self.legacy is None:
            for i, rule in enumerate(self.faults):
                if rule.link.startswith(MIDDLEWARE_LINKS):
                    raise _FieldItemError(f"faults[{i}].link", f"{rule.link!r} is a middleware link, and the "
                                          "scenario has no legacy trusts (legacy.trusts)")
        else:
            for i, code in enumerate(self.legacy.trusts):
                if code not in self.population.trusts:
                    raise _FieldItemError(f"legacy.trusts[{i}]", f"legacy trust {code!r} is not one of population.trusts "
                                             f"({', '.join(self.population.trusts)})")
        return self

    @property
    def legacy_trusts(self) -> list[str]:
        return list(self.legacy.trusts) if self.legacy is not None else []

    def fault_plan(self, party: Literal["broker", "middleware"] = "broker") -> dict:
        """The fault plan of the party that carries the rules' links: the middleware's links
        (`middleware->spine`, `middleware->pas:<ODS>`) are its own, every other link the broker's."""
        rules = [r for r in self.faults if r.link.startswith(MIDDLEWARE_LINKS) == (party == "middleware")]
        return {"seed": self.seed, "rules": [r.model_dump(by_alias=True, exclude_none=True) for r in rules]}


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
        loc, msg = tuple(err.get("loc", ())), str(err.get("msg")).removeprefix("Value error, ")
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldItemError):
            loc, msg = loc + (cause.index,), str(cause)
        raise ScenarioError(f"{source}: {_where(loc)}: {msg}") from None
    for i, rule in enumerate(scenario.faults):
        try:
            action_params(rule.action, rule.params)
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
