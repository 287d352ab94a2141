"""Fixtures of the contract tests: whole in-process stacks, one as shipped, one with dedupe switched off."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from contracts.suite import Target
from tests.inprocess import TRACE_HOOKS
from tests.stack_inprocess import inprocess_stack

from .breakers import Broken


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory):
    async with inprocess_stack(tmp_path_factory.mktemp("stack"), population_size=20) as (urls, _client, apps):
        yield urls, apps


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def no_dedupe_stack(tmp_path_factory):
    """Every party with its reliable-messaging dedupe off: a repeated message is processed again."""
    with pytest.MonkeyPatch.context() as env:
        for prefix in ("SPINE", "PAS", "GP", "BROKER"):
            env.setenv(f"{prefix}_DEDUPE", "false")
        entered = inprocess_stack(tmp_path_factory.mktemp("no-dedupe"), population_size=20)
        urls, _client, apps = await entered.__aenter__()
    try:
        yield urls, apps
    finally:
        await entered.__aexit__(None, None, None)


def target_for(provider: str, stack, mutation=None) -> Target:
    """A Target reaching one party of an in-process stack, behind `mutation` when given."""
    urls, apps = stack
    app = Broken(apps[provider], mutation) if mutation else apps[provider]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=30, event_hooks=TRACE_HOOKS)
    return Target(provider, getattr(urls, provider), client)
