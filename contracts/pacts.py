"""Consumer-driven contracts as Pact files (pact-python, Pact specification V4).

`write_pact` replays every interaction of a consumer-provider pair (contracts/pact_interactions.py)
through the consumer's side against Pact's mock server, and only then writes
contracts/pacts/<consumer>-<provider>.json. `verify_pact` (contracts/pact_states.py) replays a pact
file against a running provider.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from pact import Pact
from pact.error import MismatchesError

from .data import PACTS_DIR
from .pact_interactions import (BROKER, FHIR, GP, PAIRS, PAS, PROVIDER_OF, SPINE, ConsumerExpectationFailed,
                                Interaction, interactions)
from .pact_states import verify_pact

__all__ = ["BROKER", "GP", "PAIRS", "PAS", "PROVIDER_OF", "SPINE", "ConsumerExpectationFailed", "build",
           "interactions", "pact_path", "verify_pact", "write_pact"]


def pact_path(consumer: str, provider: str, directory: Path = PACTS_DIR) -> Path:
    return directory / f"{consumer}-{provider}.json"


def build(consumer: str, provider: str) -> tuple[Pact, list[Interaction]]:
    pact = Pact(consumer, provider).with_specification("V4")
    items = interactions(consumer, provider)
    for i in items:
        http = pact.upon_receiving(i.description)
        if i.state:
            http = http.given(i.state, i.params)
        http = http.with_request(i.method, i.path)
        if i.query:
            http = http.with_query_parameters(i.query)
        if i.body is not None:
            http = http.with_body(i.body, content_type=FHIR)
        http.will_respond_with(i.status).with_body(i.response, content_type=FHIR)
    return pact, items


def write_pact(consumer: str, provider: str, directory: Path = PACTS_DIR) -> Path:
    """Runs the consumer's side of every interaction against Pact's mock server, then writes the pact."""
    pact, items = build(consumer, provider)

    async def run_all(url: str) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for i in items:
                if i.exercise is None:
                    raise ConsumerExpectationFailed(f"{i.description}: no consumer code exercises it")
                await i.exercise(client, url, i)

    failure: ConsumerExpectationFailed | None = None
    try:
        with pact.serve() as server:
            try:
                asyncio.run(run_all(str(server.url).rstrip("/")))
            except ConsumerExpectationFailed as exc:
                failure = exc
    except MismatchesError:
        # The interactions left unplayed after a consumer failed are mismatches too; the failure says why.
        if failure is None:
            raise
    if failure is not None:
        raise failure
    directory.mkdir(parents=True, exist_ok=True)
    pact.write_file(directory, overwrite=True)
    return pact_path(consumer, provider, directory)


