"""`testbed reconcile` and `testbed check`: find, name and repair the bookings the parties disagree
on, and turn the error rates into a pass or a fail for CI.

Exit codes (both commands): 0 done (check: every bound met), 1 a bound missed (check) or another
failure, 2 a usage error, 3 a party cannot be reached.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import typer
from rich.console import Console

from party_common.fhir_json import FHIR_JSON
from party_common.control_auth import add_control_token
from party_common.http_client import add_trace_headers

from harness.cli.errors import FAILED, UNREACHABLE, USAGE, fail
from harness.cli.options import (BrokerPort, BrokerUrl, GpPort, GpUrl, HostOpt, LegacyPasUrl, MiddlewareUrl,
                                 OptLegacyPasPort, OptMiddlewarePort, PasPort, PasUrl, SpinePort, SpineUrl, stack_urls)
from harness.stack.endpoints import DEFAULT_PORTS, StackUrls
from harness.run.error_rates import (Bound, JournalError, end_to_end_miss, link_bound_misses, link_rates, load_journal,
                          read_journal)
from harness.reconcile import PartyUnreachable, ReconcileJob, render, run_job, write_junit
from harness.reconcile.report import Reconciliation
from harness.reconcile.service import judged, reconcile_captured
from harness.reconcile.legacy import middleware_journal_if_up
from harness.run.record import RunFolderError, load_capture, middleware_journal, read_jsonl

MISSED = FAILED

JournalOpt = Annotated[Path | None, typer.Option(help="A journal.jsonl to score against and take link rates from.")]
RunOpt = Annotated[Path | None, typer.Option("--run", help="A run folder, judged from what the run recorded (its"
                                              " bookings, journal and each party's records captured at its end)"
                                              " with no stack asked; with --repair, that run's own stack must be up.")]
SettleOpt = Annotated[float, typer.Option(min=0, help="Wait up to this many seconds for the broker's outbox to"
                                                      " drain before reading (0: do not wait).")]


class RunContext:
    """What a run folder or a journal file tells the reconciler.

    A run folder is judged from what the run recorded (its bookings, journal and the parties' records
    captured at its end), never from a stack that answers on the ports now: that may be another one,
    holding other bookings under the same UBRNs.
    """

    def __init__(self, journal: Path | None, run: Path | None, dedupe: bool | None):
        if journal and run:
            fail("give --journal or --run, not both", USAGE)
        self.folder = run
        self.journal: list[dict] | None = None
        self.scope: set[str] | None = None
        self.attempted: int | None = None
        self.dedupe = True
        self.legacy_trusts: tuple[str, ...] = ()
        self.summary: dict = {}
        try:
            if run is not None:
                if not run.is_dir():
                    fail(f"--run {run}: not a run folder (give the folder `testbed run` wrote)", USAGE)
                # A run with legacy trusts kept the middleware's journal too: scored beside the broker's.
                self.journal = [*load_journal(run / "journal.jsonl"), *middleware_journal(run)]
                self.legacy_trusts = _run_legacy_trusts(run)
                bookings = read_jsonl(run / "bookings.jsonl") if (run / "bookings.jsonl").is_file() else []
                followups = read_jsonl(run / "followups.jsonl") if (run / "followups.jsonl").is_file() else []
                # As the run counted them: every booking it drove, and each rebooking as one more.
                self.attempted = (len(bookings) + sum(f.get("action") == "rebook" for f in followups)) or None
                self.scope = {b["ubrn"] for b in bookings if b.get("ubrn")} | {
                    e["ubrn"] for e in self.journal if e.get("ubrn")}
                self.dedupe = _run_dedupe(run)
                if (run / "summary.json").is_file():
                    self.summary = orjson.loads((run / "summary.json").read_bytes())
            elif journal is not None:
                if journal.is_dir():
                    fail(f"--journal {journal} is a directory: give a journal.jsonl (or --run for a run folder)",
                         USAGE)
                self.journal = load_journal(journal)
        except JournalError as exc:
            fail(str(exc), USAGE)
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            fail(f"--run {run}: cannot read its bookings ({exc})", USAGE)
        if dedupe is not None:
            self.dedupe = dedupe

    def reconcile_offline(self) -> tuple[Reconciliation, dict]:
        """The run's reconciliation again, from its folder alone."""
        assert self.folder is not None
        try:
            sources = load_capture(self.folder)
        except RunFolderError as exc:
            fail(f"--run: {exc}", USAGE)
        rec = reconcile_captured(sources, attempted=self.attempted, urls=self.summary.get("run", {}).get("urls"),
                                 notes=[f"read from the run folder {self.folder}: each party's records as the run "
                                        "captured them at its end; no party was asked"])
        doc = rec.to_json()
        if self.journal is not None:
            doc.update(judged(rec, self.journal, self.dedupe, self.legacy_trusts))
        return rec, doc


def _run_legacy_trusts(run: Path) -> tuple[str, ...]:
    """The trusts the run's scenario put behind the middleware (docs/legacy-pas.md)."""
    try:
        scenario = orjson.loads((run / "scenario.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return ()
    return tuple((scenario.get("legacy") or {}).get("trusts") or ())


def _run_dedupe(run: Path) -> bool:
    """Whether the run's receivers deduplicated: only an embedded stack takes the scenario's setting."""
    try:
        summary = orjson.loads((run / "summary.json").read_bytes())
        scenario = orjson.loads((run / "scenario.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return True
    if summary.get("run", {}).get("stack") != "embedded":
        return True
    return bool(scenario.get("receivers", {}).get("dedupe", True))


async def _is_the_runs_stack(client: httpx.AsyncClient, urls: StackUrls, ctx: RunContext) -> None:
    """Fails unless the broker at `urls` is the one the run in `ctx` ran against: its journal holds the
    run's first entries, as the run recorded them."""
    head = (ctx.journal or [])[:20]
    if not head:
        fail(f"--run {ctx.folder} has an empty journal: there is no telling whether the stack at {urls.broker} "
             "is the run's own, and --repair acts on a live stack", USAGE)
    try:
        r = await client.get(f"{urls.broker}/journal", params={"since": head[0]["seq"] - 1, "_count": len(head)})
    except httpx.HTTPError as exc:
        raise PartyUnreachable("broker", urls.broker, type(exc).__name__) from exc
    live = r.json().get("entries", []) if r.status_code == 200 else []

    def key(e: dict) -> tuple:
        return e.get("seq"), e.get("message_id"), e.get("at")

    if [key(e) for e in live] != [key(e) for e in head]:
        fail(f"the broker at {urls.broker} is not the stack run {ctx.folder} ran against (its journal differs): "
             "--repair with --run needs the run's own stack up; without --repair the folder is read on its own")


def _client() -> httpx.AsyncClient:
    # Idle connections let go before uvicorn's 5 s keep-alive drops one under a request (harness/run/runner.py).
    return httpx.AsyncClient(timeout=120, headers={"Accept": FHIR_JSON}, limits=httpx.Limits(keepalive_expiry=2.0),
                             event_hooks={"request": [add_trace_headers, add_control_token]})


async def _reconcile(job: ReconcileJob, ctx: RunContext) -> tuple[Reconciliation, dict]:
    async with _client() as client:
        if ctx.folder is not None:  # --repair of a run's bookings: on that run's stack only
            await _is_the_runs_stack(client, job.urls, ctx)
        return await run_job(client, job)


def reconcile(
    json_out: Annotated[bool, typer.Option("--json", help="Print counts by kind and every discrepancy as JSON.")] = False,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML: one test case per booking checked.")] = None,
    repair: Annotated[bool, typer.Option(help="Resend what is missing through the broker, then reconcile again.")] = False,
    max_rounds: Annotated[int, typer.Option(min=1, max=100, help="Repair rounds at most (resend, reconcile).")] = 3,
    attempts: Annotated[int, typer.Option(min=1, max=100, help="Resends of one booking per round while its link loses them.")] = 10,
    journal: JournalOpt = None,
    run_folder: RunOpt = None,
    receivers_dedupe: Annotated[bool | None, typer.Option("--receivers-dedupe/--no-receivers-dedupe",
                                                          help="Whether the trust deduplicates (for the score; default: the run's setting, else yes).")] = None,
    limit: Annotated[int, typer.Option(min=0, help="Discrepancies shown in the table.")] = 20,
    settle: SettleOpt = 30.0,
    host: HostOpt = "127.0.0.1",
    broker_port: BrokerPort = DEFAULT_PORTS["broker"],
    spine_port: SpinePort = DEFAULT_PORTS["spine"],
    pas_port: PasPort = DEFAULT_PORTS["pas"],
    gp_port: GpPort = DEFAULT_PORTS["gp"],
    middleware_port: OptMiddlewarePort = None,
    legacy_pas_port: OptLegacyPasPort = None,
    broker_url: BrokerUrl = None,
    spine_url: SpineUrl = None,
    pas_url: PasUrl = None,
    gp_url: GpUrl = None,
    middleware_url: MiddlewareUrl = None,
    legacy_pas_url: LegacyPasUrl = None,
):
    """Join every party's bookings on UBRN and name each disagreement (optionally repair them)."""
    urls = stack_urls(host, {"broker": broker_port, "spine": spine_port, "pas": pas_port, "gp": gp_port,
                             "middleware": middleware_port, "legacy_pas": legacy_pas_port},
                      {"broker": broker_url, "spine": spine_url, "pas": pas_url, "gp": gp_url,
                       "middleware": middleware_url, "legacy_pas": legacy_pas_url})
    ctx = RunContext(journal, run_folder, receivers_dedupe)
    if ctx.folder is not None and not repair:
        rec, doc = ctx.reconcile_offline()
    else:
        job = ReconcileJob(urls=urls, scope=ctx.scope, attempted=ctx.attempted, settle_s=settle, journal=ctx.journal,
                           dedupe=ctx.dedupe, legacy_trusts=ctx.legacy_trusts, repair=repair, max_rounds=max_rounds, attempts=attempts)
        try:
            rec, doc = asyncio.run(_reconcile(job, ctx))
        except PartyUnreachable as exc:
            fail(str(exc), UNREACHABLE)
    if junit is not None:
        try:
            write_junit(rec, junit)
        except OSError as exc:
            fail(f"cannot write {junit}: {exc.strerror}")
    if json_out:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render(Console(), doc, limit)


def check(
    max_error_rate: Annotated[float | None, typer.Option(min=0, max=1, help="Bound on the end-to-end error rate.")] = None,
    link: Annotated[list[str] | None, typer.Option(help="A link glob (or GLOB#EVENT) to bound; pairs with the --max after it.")] = None,
    max_: Annotated[list[float] | None, typer.Option("--max", min=0, max=1, help="Bound on the error rate of each link the --link before it matches.")] = None,
    journal: JournalOpt = None,
    run_folder: RunOpt = None,
    report: Annotated[Path | None, typer.Option(help="Judge a saved reconciliation (a run folder's reconciliation.json) instead of the live parties.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON on stdout.")] = False,
    settle: SettleOpt = 30.0,
    host: HostOpt = "127.0.0.1",
    broker_port: BrokerPort = DEFAULT_PORTS["broker"],
    spine_port: SpinePort = DEFAULT_PORTS["spine"],
    pas_port: PasPort = DEFAULT_PORTS["pas"],
    gp_port: GpPort = DEFAULT_PORTS["gp"],
    middleware_port: OptMiddlewarePort = None,
    legacy_pas_port: OptLegacyPasPort = None,
    broker_url: BrokerUrl = None,
    spine_url: SpineUrl = None,
    pas_url: PasUrl = None,
    gp_url: GpUrl = None,
    middleware_url: MiddlewareUrl = None,
    legacy_pas_url: LegacyPasUrl = None,
):
    """Exit 0 when the error rates are within every bound, 1 (saying which) when not."""
    links, maxes = link or [], max_ or []
    if max_error_rate is None and not links:
        fail("give --max-error-rate R and/or --link GLOB --max R", USAGE)
    if len(links) != len(maxes):
        fail(f"--link and --max go in pairs: got {len(links)} --link and {len(maxes)} --max", USAGE)
    urls = stack_urls(host, {"broker": broker_port, "spine": spine_port, "pas": pas_port, "gp": gp_port,
                             "middleware": middleware_port, "legacy_pas": legacy_pas_port},
                      {"broker": broker_url, "spine": spine_url, "pas": pas_url, "gp": gp_url,
                       "middleware": middleware_url, "legacy_pas": legacy_pas_url})
    ctx = RunContext(journal, run_folder, None)
    try:
        summary, rates = asyncio.run(_measure(urls, ctx, report, settle, need_links=bool(links)))
    except PartyUnreachable as exc:
        fail(str(exc), UNREACHABLE)
    misses = check_misses(summary, rates, max_error_rate, list(zip(links, maxes)))
    if json_out:
        verdict = {"passed": not misses, "misses": misses, "end_to_end": summary,
                   "bounds": {"max_error_rate": max_error_rate, "links": dict(zip(links, maxes))},
                   "links": {k: {f: v[f] for f in ("attempts", "failed", "rate")} for k, v in (rates or {}).items()}}
        sys.stdout.write(orjson.dumps(verdict, option=orjson.OPT_INDENT_2).decode() + "\n")
    if misses:
        for line in misses:
            print(f"testbed: error: {line}", file=sys.stderr)
        raise typer.Exit(MISSED)
    if not json_out:
        out = Console()
        if summary is not None and max_error_rate is not None:
            out.print(f"ok: end-to-end error rate {summary['error_rate']:.4f} <= {max_error_rate:g} "
                      f"({summary['disagreeing']} of {summary['attempted']} bookings disagree)")
        for glob, bound in zip(links, maxes):
            out.print(f"ok: every link matching {glob!r} within {bound:g}")


def check_misses(summary: dict | None, rates: dict | None, max_error_rate: float | None,
                 link_bounds: list[tuple[str, float]]) -> list[str]:
    """One line per bound missed: the end-to-end rate, then each link bound in the order given."""
    misses: list[str] = []
    if max_error_rate is not None and summary is not None:
        miss = end_to_end_miss(summary, Bound(max=max_error_rate))
        if miss:
            misses.append(miss)
    for glob, bound in link_bounds:
        misses += link_bound_misses(rates or {}, glob, Bound(max=bound))
    return misses


async def _measure(urls: StackUrls, ctx: RunContext, report: Path | None, settle: float,
                   need_links: bool) -> tuple[dict | None, dict | None]:
    """(end-to-end summary, link rates) from a saved report, a run folder or the live stack."""
    rates = link_rates(ctx.journal) if ctx.journal is not None else None
    if report is not None:
        if report.is_dir():
            fail(f"--report {report} is a directory: give the reconciliation.json file in it (or --run for a run "
                 "folder)", USAGE)
        try:
            doc = orjson.loads(report.read_bytes())
            summary = {k: doc[k] for k in ("checked", "attempted", "disagreeing", "error_rate", "counts")}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            fail(f"--report {report}: not a reconciliation report ({type(exc).__name__})", USAGE)
        if rates is None and need_links:
            if not doc.get("links"):
                fail(f"--report {report} holds no link rates: give --journal or --run", USAGE)
            rates = doc["links"]
        return summary, rates
    if ctx.folder is not None:
        rec, _ = ctx.reconcile_offline()
        return rec.summary(), rates
    async with _client() as client:
        job = ReconcileJob(urls=urls, scope=ctx.scope, attempted=ctx.attempted, settle_s=settle)
        rec, _ = await run_job(client, job)
        if rates is None and need_links:
            # The middleware's links beside the broker's, in a stack with legacy trusts.
            rates = link_rates([*await read_journal(client, urls.broker),
                                *await middleware_journal_if_up(client, urls.middleware)])
    return rec.summary(), rates


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    app.command("check")(check)
