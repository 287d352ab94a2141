"""Every check can fail: each fails against a provider broken in the one way it guards against, and
every check passes against our own providers, twice over on the same system."""

from __future__ import annotations

import pytest

from contracts.suite import PROVIDERS, checks_for, run_suite

from .breakers import BREAKERS, BREAKS
from .conftest import target_for

ALL_CHECKS = [c.id for p in PROVIDERS for c in checks_for(p)]


def test_every_check_has_a_broken_provider_and_every_breaker_exists():
    missing = sorted(set(ALL_CHECKS) - set(BREAKS))
    assert not missing, f"checks with no broken provider in tests/contracts/breakers.py BREAKS: {missing}"
    assert not sorted(set(BREAKS) - set(ALL_CHECKS)), "BREAKS names checks that no longer exist"
    assert set(BREAKS.values()) <= set(BREAKERS)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_check_passes_against_our_provider_twice(provider, stack):
    target = target_for(provider, stack)
    async with target.client:
        for run in (1, 2):
            results = await run_suite(target)
            failed = [r.line() for r in results if not r.passed]
            assert not failed, f"run {run}: {failed}"
            assert len(results) == len(checks_for(provider)) >= 10


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("check_id", ALL_CHECKS)
async def test_check_fails_against_a_broken_provider(check_id, stack, no_dedupe_stack):
    breaker = BREAKS.get(check_id)
    assert breaker, f"{check_id} has no broken provider in tests/contracts/breakers.py BREAKS"
    provider = check_id.split(".", 1)[0]
    mutation = BREAKERS[breaker]
    target = target_for(provider, no_dedupe_stack if mutation is None else stack, mutation)
    async with target.client:
        results = await run_suite(target, only=[check_id])
    assert [r.check.id for r in results] == [check_id]
    assert not results[0].passed, f"{check_id} passed against the provider broken by {breaker!r}"
    assert results[0].reason
