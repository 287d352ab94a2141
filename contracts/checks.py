"""What a provider check is: a named async function of a `Target` that raises `CheckFailed` (one line
saying what was wrong) or returns, registered with `@check`; and the `Result` of running one.

Apart from contracts/suite.py, which runs them: the provider modules register their checks here, and
the suite imports the providers to have them registered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PROVIDERS = ("pas", "spine", "gp", "broker")


class CheckFailed(Exception):
    """A provider broke its contract; the message says how, in one line."""


class Unreachable(Exception):
    """The base URL does not answer at all: no check can run."""


@dataclass
class Target:
    """The system under test and what the checks need to know about it."""

    provider: str
    base_url: str
    client: httpx.AsyncClient
    ods: str | None = None            # pas: the trust; gp: the practice; broker: the sending practice
    nhs_number: str | None = None     # a patient the spine knows (spine, broker)
    scratch: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    @property
    def patient(self) -> str:
        """The NHS number the checks book for: the one given, else the one the provider's setup chose."""
        if self.nhs_number is None:
            raise RuntimeError(f"no patient for the {self.provider} checks: its setup chooses one")
        return self.nhs_number


CheckFn = Callable[[Target], Awaitable[None]]


@dataclass(frozen=True)
class Check:
    id: str
    provider: str
    title: str
    fn: CheckFn


@dataclass
class Result:
    check: Check
    passed: bool
    reason: str
    seconds: float

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        tail = self.check.title if self.passed else self.reason
        return f"{word} {self.check.id} ({self.seconds * 1000:.0f} ms) {tail}"


REGISTRY: dict[str, Check] = {}


def check(provider: str, name: str, title: str) -> Callable[[CheckFn], CheckFn]:
    """Registers a check as `<provider>.<name>`."""
    def register(fn: CheckFn) -> CheckFn:
        cid = f"{provider}.{name}"
        if cid in REGISTRY:
            raise ValueError(f"check {cid} registered twice")
        REGISTRY[cid] = Check(cid, provider, title, fn)
        return fn
    return register
