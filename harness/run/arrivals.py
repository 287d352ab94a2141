"""When each booking of a workload arrives: the scenario's `workload.arrival`.

- closed: no arrival times; bookings start as fast as `concurrency` allows (a load test).
- poisson: exponential gaps at `per_hour` on average, drawn from a stream seeded by the scenario's
  seed, so the same scenario arrives at the same moments.
- uniform: one booking every 3600 / per_hour seconds.

Times are seconds from the start of the workload, on whichever clock the run uses.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ArrivalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    process: Literal["closed", "poisson", "uniform"] = "closed"
    per_hour: float | None = Field(None, gt=0, description="mean arrivals per hour (poisson, uniform)")

    @model_validator(mode="after")
    def _rate_given(self):
        if self.process != "closed" and self.per_hour is None:
            raise ValueError(f"a {self.process} arrival process needs per_hour")
        return self


def arrival_times(spec: ArrivalSpec, count: int, seed: int) -> list[float] | None:
    """Seconds from the start at which bookings 0..count-1 arrive; None for a closed workload."""
    if spec.process == "closed" or spec.per_hour is None:  # the model requires per_hour otherwise
        return None
    gap = 3600.0 / spec.per_hour
    if spec.process == "uniform":
        return [i * gap for i in range(count)]
    rng = random.Random(f"{seed}:arrivals")
    times, t = [], 0.0
    for _ in range(count):
        t += rng.expovariate(1.0 / gap)
        times.append(round(t, 6))
    return times
