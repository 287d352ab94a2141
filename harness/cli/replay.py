"""`testbed replay` and `testbed trace`: a recorded run again, and one booking's path through it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from party_common.logging_setup import configure_logging

from harness.stack.embedded import StackError
from harness.reconcile import PartyUnreachable
from harness.cli.errors import fail
from harness.cli.options import GpUrl, HostOpt, PasUrl, SpineUrl
from harness.replay.trace import instant
from harness.run.record import RunFolderError, newest_run
from harness.run.runner import RunIncomplete
from harness.run.workload import WorkloadError

DIFFERS = 1
FolderArg = Annotated[Path, typer.Argument(help="A run folder written by `testbed run` (or a replay).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
PortOpt = Annotated[int, typer.Option(min=0, max=65535, help="Port for this party of the fresh stack (0: a free one).")]


def _print_json(doc) -> None:
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


def _report_differences(differences: list[str], show: int, what: str) -> None:
    for line in differences[:show]:
        print(line, file=sys.stderr)
    if len(differences) > show:
        print(f"... and {len(differences) - show} more", file=sys.stderr)
    fail(f"{what} differs from the recording in {len(differences)} place(s)", DIFFERS)


def replay(
    run_folder: FolderArg,
    ubrn: Annotated[str | None, typer.Option(help="Replay only this booking's messages.")] = None,
    spine_url: SpineUrl = None,
    pas_url: PasUrl = None,
    gp_url: GpUrl = None,
    deliver_all: Annotated[bool, typer.Option(help="With --ubrn: deliver every message, ignoring the recorded faults.")] = False,
    runs_dir: Annotated[Path | None, typer.Option(help="Where the replay's run folder goes (default: beside the recording).")] = None,
    show: Annotated[int, typer.Option(min=1, help="How many differences to print.")] = 20,
    json_out: JsonOpt = False,
    host: HostOpt = "127.0.0.1",
    broker_port: PortOpt = 0,
    spine_port: PortOpt = 0,
    pas_port: PortOpt = 0,
    gp_port: PortOpt = 0,
    middleware_port: PortOpt = 0,
    legacy_pas_port: PortOpt = 0,
    mllp_port: Annotated[int, typer.Option(min=0, max=65535, help=(
        "The legacy PAS's MLLP port for the first legacy trust, the next trust the next port (0: free ones)."))] = 0,
):
    """Run a recorded run again on a fresh stack with the same decisions; exit 1 if anything differs."""
    configure_logging("WARNING")
    try:
        if ubrn:
            _replay_one(run_folder, ubrn, {"spine": spine_url, "pas": pas_url, "gp": gp_url}, deliver_all,
                        show, json_out)
            return
        if spine_url or pas_url or gp_url or deliver_all:
            fail("--spine-url, --pas-url, --gp-url and --deliver-all go with --ubrn", 2)
        from harness.replay.run import free_local_urls, replay_run

        urls = free_local_urls(host, {"broker": broker_port, "spine": spine_port, "pas": pas_port, "gp": gp_port,
                                      "middleware": middleware_port, "legacy_pas": legacy_pas_port})
        outcome = replay_run(run_folder, urls, runs_dir, mllp_port=mllp_port)
    except (RunFolderError, StackError, WorkloadError) as exc:
        fail(str(exc), 2)
    except RunIncomplete as exc:
        fail(str(exc), 1)
    except PartyUnreachable as exc:
        fail(str(exc), 3)
    for line in outcome.warnings:
        print(f"testbed: warning: {line}", file=sys.stderr)
    if json_out:
        _print_json({"recorded": str(outcome.recorded), "replay": str(outcome.folder),
                     "identical": outcome.identical, "compared": outcome.compared,
                     "differences": outcome.differences})
    print(f"replay folder: {outcome.folder}", file=sys.stderr)
    if not outcome.identical:
        _report_differences([] if json_out else outcome.differences, show, "the replay")
    if not json_out:
        Console().print(f"identical: {', '.join(outcome.compared)} match the recording")


def _replay_one(folder: Path, ubrn: str, urls: dict[str, str | None], deliver_all: bool, show: int,
                json_out: bool) -> None:
    from harness.replay.booking import replay_booking

    targets = {party: url.rstrip("/") for party, url in urls.items() if url}
    result = replay_booking(folder, ubrn, targets or None, deliver_all)
    if json_out:
        _print_json(result.as_json())
    else:
        table = Table(title=f"booking {ubrn}: then (recorded) and now (sent to {', '.join(result.targets)})")
        for col in ("#", "link", "event", "attempt", "decision", "then", "now"):
            table.add_column(col)
        for i, hop in enumerate(result.hops, 1):
            then = hop.then
            now = (f"{hop.now['outcome']} {hop.now['status'] or ''}".strip() if hop.now else f"[dim]{hop.note}[/dim]")
            table.add_row(str(i), then["link"], then["event"], str(then.get("attempt")), then["decision"],
                          f"{then['outcome']} {then.get('status') or ''}".strip(), now)
        Console().print(table)
    if result.differences:
        _report_differences([] if json_out else result.differences, show, f"booking {ubrn}'s replay")


def trace(
    ubrn: Annotated[str, typer.Argument(help="The booking's UBRN.")],
    run_folder: Annotated[Path | None, typer.Argument(help="A run folder (default: the newest under --runs-dir).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are.")] = Path("runs"),
    json_out: JsonOpt = False,
):
    """One booking's path through a run: each hop, its fault decision and outcome, each party's final view."""
    from harness.replay.trace import trace_booking

    try:
        doc = trace_booking(run_folder or newest_run(runs_dir), ubrn)
    except RunFolderError as exc:
        fail(str(exc), 2)
    if json_out:
        _print_json(doc)
        return
    render_trace(Console(), doc)


def render_trace(out: Console, doc: dict) -> None:
    b = doc.get("booking") or {}
    title = f"booking {doc['ubrn']} in {doc['folder']}"
    if b:
        title += f" (booking #{b.get('index')} at {b.get('practice')}: {b.get('outcome')})"
    hops = Table(title=title)
    for col in ("seq", "link", "event", "message", "try", "fault", "outcome", "ms"):
        hops.add_column(col, overflow="fold")
    rules: dict[str, str] = {}
    # A restart that lost the booking goes in among the hops at its time: where the path ended. After
    # the hops of the same instant: the look-up that failed once too often restarts it then and there.
    restarts = sorted(doc.get("lost_in_restarts") or [], key=lambda r: instant(r.get("at")))
    for h in doc["hops"]:
        while restarts and instant(restarts[0].get("at")) < instant(h.get("at")):
            _restart_row(hops, restarts.pop(0))
        decision = h["decision"]
        if h.get("rule_id"):
            # Each party numbers its own rules: the middleware's r1 is not the broker's.
            rule_id = f"{h['journal']}:{h['rule_id']}" if h.get("journal") else h["rule_id"]
            rules[rule_id] = h.get("rule") or ""
            decision = f"[bold red]{decision}[/bold red] {rule_id}"
        message = (h.get("message_id") or (f"<{h['origin_id']}" if h.get("origin_id") else "-"))[:8]
        outcome = f"{h['outcome']} {h.get('status') or ''}".strip()
        hops.add_row(str(h["seq"]), h["link"], h["event"], message, str(h.get("attempt")), decision, outcome,
                     f"{h['latency_ms']:.0f}" if h.get("latency_ms") is not None else "")
    for restart in restarts:
        _restart_row(hops, restart)
    out.print(hops)
    for rule_id, text in rules.items():
        out.print(f"{rule_id}: {text}")
    for r in doc.get("lost_in_restarts") or []:
        out.print(f"[bold red]lost in the middleware's restart #{r['restart']}[/bold red] at {r.get('at')}: "
                  f"{r.get('reason')}; its {r.get('queue')} queue held the {r.get('event')} (control id "
                  f"{r.get('control_id')}), which never reached the legacy PAS")
    views = Table(title="each party's final view")
    for col in ("party", "status", "slot", "start", "trust", "practice"):
        views.add_column(col)
    for party, view in doc["views"].items():
        for v in (view if isinstance(view, list) else [view]) or [None]:
            if v is None:
                views.add_row(party, "[bold red]no record[/bold red]", "", "", "", "")
            else:
                views.add_row(party, v.get("status", ""), v.get("slot", ""), v.get("start", ""), v.get("trust", ""),
                              v.get("practice", ""))
    out.print(views)
    for d in doc["discrepancies"]:
        out.print(f"[bold red]{d['kind']}[/bold red] ({d['party']}): {d['detail']}")


def _restart_row(hops: Table, restart: dict) -> None:
    hops.add_row("-", "middleware", "restart", (restart.get("bundle_id") or "-")[:8], "",
                 f"[bold red]restart #{restart['restart']}[/bold red]", f"lost ({restart.get('queue')} queue)", "")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("trace")(trace)
