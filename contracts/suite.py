"""Provider suites: named checks that send real HTTP requests to a party and judge its answers.

A check is an async function of a `Target` that raises `CheckFailed` (one line saying what was wrong)
or returns. Checks do their own set-up with fresh identifiers and tidy up after themselves, so a suite
can run twice against the same system and any one check can run alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatch

import httpx

from . import providers  # noqa: F401  (importing the package registers every check)
from .checks import PROVIDERS, REGISTRY, Check, CheckFailed, Result, Target, Unreachable
from .providers import prepare


def checks_for(provider: str, only: Iterable[str] = ()) -> list[Check]:
    if provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
    patterns = list(only)
    found = [c for c in REGISTRY.values() if c.provider == provider]
    if patterns:
        found = [c for c in found if any(fnmatch(c.id, p) for p in patterns)]
    return found


async def run_check(c: Check, target: Target) -> Result:
    started = time.perf_counter()
    try:
        await c.fn(target)
    except CheckFailed as exc:
        return Result(c, False, str(exc), time.perf_counter() - started)
    except httpx.HTTPError as exc:
        return Result(c, False, f"HTTP error: {type(exc).__name__}: {exc}", time.perf_counter() - started)
    except Exception as exc:  # an answer so far off its shape that reading it failed: still a failed check
        return Result(c, False, f"could not read the answer ({type(exc).__name__}: {exc})",
                      time.perf_counter() - started)
    return Result(c, True, "", time.perf_counter() - started)


async def probe(target: Target) -> None:
    """Raises Unreachable when nothing answers at the base URL."""
    try:
        await target.client.get(target.url("metadata"))
    except httpx.HTTPError as exc:
        raise Unreachable(f"{target.base_url} is unreachable ({type(exc).__name__}: {exc})") from exc


async def run_suite(target: Target, only: Iterable[str] = (),
                    on_result: Callable[[Result], None] | None = None) -> list[Result]:
    await probe(target)
    await prepare(target)
    results = []
    for c in checks_for(target.provider, only):
        result = await run_check(c, target)
        results.append(result)
        if on_result:
            on_result(result)
    return results
