"""Retries on the party's clock: tenacity sleeping and giving up by the broker's clock, not real time.

On a virtual clock a backoff is a virtual sleep (the harness advances past it) and "give up after
30 s" means 30 simulated seconds. The jitter draws from a stream seeded by the message, so a rerun
of a scenario retries at the same moments and journals the same.
"""

from __future__ import annotations

import random

from tenacity import AsyncRetrying, AttemptManager, RetryCallState

from party_common.clock import Clock


class SeededJitter:
    """Exponential backoff plus up to `jitter` seconds, capped at `max_s` (tenacity's
    wait_exponential_jitter, with its own random stream)."""

    def __init__(self, seed: str, multiplier: float, max_s: float, jitter: float = 1.0):
        self.rng = random.Random(seed)
        self.multiplier, self.max_s, self.jitter = multiplier, max_s, jitter

    def __call__(self, state: RetryCallState) -> float:
        grown = self.multiplier * 2 ** min(state.attempt_number - 1, 60)
        return max(0.0, min(grown + self.rng.uniform(0, self.jitter), self.max_s))


def stop_after(clock: Clock, seconds: float):
    """Stops retrying once `seconds` have passed on `clock` since this was made."""
    deadline = clock.monotonic() + seconds
    return lambda state: clock.monotonic() >= deadline


def clocked_retrying(clock: Clock, seed: str, *, multiplier: float, max_s: float, **kwargs) -> AsyncRetrying:
    return AsyncRetrying(sleep=clock.sleep, wait=SeededJitter(seed, multiplier, max_s), **kwargs)


def keep_result(attempt: AttemptManager, result: object) -> None:
    """After `with attempt:`, hands tenacity what the attempt returned, so `retry_if_result` can judge
    it; an attempt that raised keeps its exception."""
    outcome = attempt.retry_state.outcome
    if outcome is not None and not outcome.failed:
        attempt.retry_state.set_result(result)
