"""`testbed contract ...`: run a provider's contract suite against any system, keep interface snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import httpx
import typer

from contracts.suite import PROVIDERS, Result, Target, Unreachable, checks_for, run_suite
from party_common.http_client import add_trace_headers

from harness.cli.errors import fail

contract_app = typer.Typer(help="Contract suites and interface snapshots of the four parties.",
                           no_args_is_help=True)

ProviderOpt = Annotated[str, typer.Option("--provider", help=f"Which contract: {' | '.join(PROVIDERS)}.")]


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        fail(f"--provider must be one of {', '.join(PROVIDERS)}, not {provider!r}", 2)


async def _verify(target_args: dict, only: list[str], timeout: float) -> list[Result]:
    # BaRS asks every sender for X-Request-ID and X-Correlation-ID; a check that sends its own keeps them.
    async with httpx.AsyncClient(timeout=timeout, event_hooks={"request": [add_trace_headers]}) as client:
        target = Target(client=client, **target_args)
        return await run_suite(target, only, on_result=lambda r: print(r.line(), flush=True))


@contract_app.command()
def verify(
    provider: ProviderOpt,
    base_url: Annotated[str, typer.Option("--base-url", help="FHIR base URL of the system under test.")],
    ods: Annotated[str | None, typer.Option(help="pas: the trust's ODS code (default: the first the PAS lists, "
                                                 "else RT1); gp: the practice (default Y90001); broker: the "
                                                 "sending practice (default Y90001).")] = None,
    nhs_number: Annotated[str | None, typer.Option(help="A 999-range NHS number the spine knows "
                                                        "(default: the first synthetic patient).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write the results as JUnit XML here.")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only checks whose id matches this glob "
                                                        "(repeatable), e.g. 'pas.duplicate-*'.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
):
    """Run PROVIDER's contract suite against BASE_URL: one line per check, exit 0 only if all pass."""
    _check_provider(provider)
    if not base_url.startswith(("http://", "https://")):
        fail(f"--base-url must be an http(s) URL, not {base_url!r}", 2)
    if junit is not None and junit.is_dir():
        fail(f"--junit {junit} is a directory: give the XML file to write", 2)
    if only and not checks_for(provider, only):
        fail(f"--only {' '.join(only)} matches no {provider} check (see `testbed contract list`)", 2)
    args = {"provider": provider, "base_url": base_url, "ods": ods, "nhs_number": nhs_number}
    try:
        results = asyncio.run(_verify(args, only or [], timeout))
    except Unreachable as exc:
        fail(str(exc), 3)
    if junit is not None:
        from contracts.junit import write_junit

        write_junit(junit, provider, base_url, results)
    failed = sum(not r.passed for r in results)
    print(f"{provider}: {len(results) - failed} passed, {failed} failed", flush=True)
    raise typer.Exit(1 if failed else 0)


@contract_app.command("list")
def list_checks(provider: Annotated[str | None, typer.Option(help="Only this provider's checks.")] = None):
    """Every check of the suites: id and what it holds the provider to."""
    if provider:
        _check_provider(provider)
    for name in [provider] if provider else PROVIDERS:
        for c in checks_for(name):
            print(f"{c.id}\t{c.title}")


@contract_app.command()
def snapshot(
    update: Annotated[bool, typer.Option(help="Write the live documents as the new snapshots.")] = False,
    party: Annotated[str | None, typer.Option(help="Only this party (broker, spine, pas, gp).")] = None,
):
    """Compare each party's OpenAPI document and CapabilityStatements with contracts/snapshots/."""
    from contracts import snapshots

    if party is not None and party not in snapshots.PARTIES:
        fail(f"--party must be one of {', '.join(snapshots.PARTIES)}, not {party!r}", 2)
    changed = 0
    for name in [party] if party else list(snapshots.PARTIES):
        if update:
            for path in asyncio.run(snapshots.update(name)):
                print(f"WROTE {path}")
            continue
        for kind, diffs in asyncio.run(snapshots.compare(name)).items():
            changed += bool(diffs)
            print(f"{'CHANGED' if diffs else 'SAME'} {name}.{kind}" + (f": {'; '.join(diffs)}" if diffs else ""))
    if changed:
        fail(f"{changed} interface document(s) differ from their snapshots; {snapshots.UPDATE_HINT}")


@contract_app.command()
def pacts(
    update: Annotated[bool, typer.Option(help="Run every consumer's side against Pact's mock server and "
                                              "write contracts/pacts/ anew.")] = False,
    verify_url: Annotated[str | None, typer.Option("--verify", help="Replay the pacts of --provider against "
                                                                    "this base URL.")] = None,
    provider: Annotated[str | None, typer.Option(help="Which provider's pacts to verify.")] = None,
):
    """Consumer-driven contracts: write the pact files, or verify a provider against them."""
    from contracts import pacts as pact_files

    if update:
        for consumer, prov in pact_files.PAIRS:
            try:
                print(f"WROTE {pact_files.write_pact(consumer, prov)}")
            except Exception as exc:  # a consumer that cannot use the answer it specified, or a mismatch
                fail(f"{consumer}-{prov}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if verify_url:
        if provider not in PROVIDERS:
            fail(f"--provider must be one of {', '.join(PROVIDERS)} with --verify", 2)
        for consumer, prov in pact_files.PAIRS:
            if pact_files.PROVIDER_OF[prov] != provider:
                continue
            path = pact_files.pact_path(consumer, prov)
            try:
                pact_files.verify_pact(path, verify_url)
            except ConnectionError as exc:
                fail(str(exc), 3)
            except Exception:  # the verifier has printed its report above, interaction by interaction
                fail(f"{path.name}: {provider} at {verify_url} broke the pact (Pact's report above)")
            print(f"PASS {path.name}")
    if not update and not verify_url:
        for consumer, prov in pact_files.PAIRS:
            print(pact_files.pact_path(consumer, prov))


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app, name="contract")
