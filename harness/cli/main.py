"""The `testbed` command."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.cli.errors import TestbedError, fail
from harness.cli.options import (BrokerPort, GpPort, HostOpt, LegacyPasPort, MiddlewarePort, MllpPort, PasPort,
                                 SpinePort, local_urls)
from harness.cli.contract import register as register_contract
from harness.stack.embedded import EmbeddedStack, StackError
from harness.stack.endpoints import DEFAULT_MLLP_PORT, DEFAULT_PORTS
from harness.cli.faults import register as register_faults
from harness.cli.inputs_view import print_inputs
from harness.cli.output import widen_piped_output
from harness.reconcile import KINDS
from harness.cli.reconcile import register as register_reconcile
from harness.cli.report import register as register_report
from harness.cli.replay import register as register_replay
from harness.run.runner import RunOptions, run as run_workload, stack_is_up
from harness.scenario.model import Scenario, ScenarioError, load_scenario, parse_scenario
from harness.scenario.library import library, resolve as resolve_scenario

app = typer.Typer(help="NHS interoperability testbed: spine, trust PAS, GP systems and a booking broker.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)

@app.command()
def up(
    host: HostOpt = "127.0.0.1",
    broker_port: BrokerPort = DEFAULT_PORTS["broker"],
    spine_port: SpinePort = DEFAULT_PORTS["spine"],
    pas_port: PasPort = DEFAULT_PORTS["pas"],
    gp_port: GpPort = DEFAULT_PORTS["gp"],
    middleware_port: MiddlewarePort = DEFAULT_PORTS["middleware"],
    legacy_pas_port: LegacyPasPort = DEFAULT_PORTS["legacy_pas"],
    mllp_port: MllpPort = DEFAULT_MLLP_PORT,
    legacy_trust: Annotated[list[str] | None, typer.Option(
        "--legacy-trust", help="A trust whose PAS is the legacy HL7 v2 PAS behind the trust's middleware "
                               "(repeat for more; docs/legacy-pas.md): starts those two parties too.")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the parties keep their SQLite files and logs.")] = Path(".testbed"),
    keep_data: Annotated[bool, typer.Option(help="Keep the records of an earlier `up` instead of starting clean.")] = False,
):
    """Start all four parties on loopback (and a legacy trust's middleware and PAS) until Ctrl-C."""
    import shutil

    legacy = list(legacy_trust or [])
    if legacy:
        try:
            parse_scenario({"legacy": {"trusts": legacy}}, "--legacy-trust")
        except ScenarioError as exc:
            fail(str(exc), 2)
    urls = local_urls(host, broker_port, spine_port, pas_port, gp_port, middleware_port, legacy_pas_port)
    urls = urls if legacy else urls.without_legacy()
    if data_dir.exists() and not keep_data:
        for sub in ("data", "logs"):
            shutil.rmtree(data_dir / sub, ignore_errors=True)
    stack = EmbeddedStack(urls, data_dir=data_dir / "data", log_dir=data_dir / "logs", host=host,
                          legacy_trusts=legacy, mllp_port=mllp_port)
    stopping = threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
    except StackError as exc:
        fail(str(exc))
    table = Table(title="testbed is up", show_header=True)
    table.add_column("party")
    table.add_column("url")
    for name, url in urls.as_dict().items():
        table.add_row(name, url)
    for ods, port in stack.mllp.items():
        table.add_row(f"legacy_pas MLLP {ods}", f"mllp://{host}:{port}")
    Console().print(table)
    console.print(f"logs in {data_dir / 'logs'}; Ctrl-C stops every party")
    try:
        while not stopping.wait(0.5):
            dead = [n for n, p in stack.processes.items() if p.poll() is not None]
            if dead:
                stack.stop()
                fail(f"the {dead[0]} stopped unexpectedly; see {data_dir / 'logs' / (dead[0] + '.log')}")
    finally:
        stack.stop()
    console.print("stopped")


@contextmanager
def _progress_bar(total: int):
    with Progress(TextColumn("booking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task("bookings", total=total)
        yield lambda _result: progress.advance(task)


@app.command()
def run(
    bookings: Annotated[int | None, typer.Option(min=1, help="How many GP bookings to drive (default 100).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of workload and faults: the same seed, the same run.")] = None,
    scenario: Annotated[str | None, typer.Option(
        help="Scenario file (YAML or JSON) or a library name (`testbed scenarios`); flags override its fields.")] = None,
    delivery: Annotated[str | None, typer.Option(help="fire-and-forget (2006) or reliable (outbox, retries, dedupe).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, max=256, help="Bookings in flight at once (default 8).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("runs"),
    keep_rules: Annotated[bool, typer.Option(
        "--keep-rules", help="Add the scenario's fault rules to those already on the broker (`testbed faults add`) "
                             "instead of replacing them.")] = False,
    host: HostOpt = "127.0.0.1",
    broker_port: BrokerPort = DEFAULT_PORTS["broker"],
    spine_port: SpinePort = DEFAULT_PORTS["spine"],
    pas_port: PasPort = DEFAULT_PORTS["pas"],
    gp_port: GpPort = DEFAULT_PORTS["gp"],
    middleware_port: MiddlewarePort = DEFAULT_PORTS["middleware"],
    legacy_pas_port: LegacyPasPort = DEFAULT_PORTS["legacy_pas"],
    mllp_port: MllpPort = DEFAULT_MLLP_PORT,
):
    """Drive GP bookings through the broker and summarise them (starts the embedded stack if none is up)."""
    try:
        scenario_path = resolve_scenario(scenario) if scenario else None
        spec = load_scenario(scenario_path) if scenario_path else Scenario()
        overrides = {k: v for k, v in {"seed": seed, "delivery": delivery}.items() if v is not None}
        workload = {k: v for k, v in {"bookings": bookings, "concurrency": concurrency}.items() if v is not None}
        data = spec.model_dump(by_alias=True, exclude_none=True)
        data.update(overrides)
        data["workload"] = {**data["workload"], **workload}
        spec = parse_scenario(data, str(scenario_path) if scenario_path else "options")
    except ScenarioError as exc:
        fail(str(exc), 2)
    # The middleware and legacy PAS are used only by a scenario with legacy trusts (runner.urls_for).
    urls = local_urls(host, broker_port, spine_port, pas_port, gp_port, middleware_port, legacy_pas_port)
    opts = RunOptions(scenario=spec, urls=urls, runs_dir=runs_dir, keep_rules=keep_rules, mllp_port=mllp_port)
    if (not spec.receivers.dedupe or spec.receivers.sites) and stack_is_up(urls):
        console.print("warning: the scenario's receivers settings apply only to a stack this run starts itself")
    if spec.legacy is not None and stack_is_up(urls):
        console.print("warning: the scenario's legacy settings (its middleware's and legacy PAS's behaviour) apply "
                      "only to a stack this run starts itself")
    try:
        # StackError, WorkloadError, RunIncomplete (1) and PartyUnreachable (3) are TestbedErrors: main() says them.
        summary, folder = run_workload(opts, None if json_out else _progress_bar)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    rules = summary.get("fault_rules") or {}
    if rules.get("replaced_on_broker"):
        console.print(f"note: the scenario's fault plan replaced {rules['replaced_on_broker']} rule(s) that were on "
                      "the broker; --keep-rules adds to them instead")
    if json_out:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_summary(summary)
    console.print(f"run folder: {folder}")
    console.print(f"report: {folder / 'report.html'}", soft_wrap=True)
    missed = summary.get("expectations", {}).get("missed", [])
    if missed:
        for line in missed:
            print(f"testbed: error: expectation missed: {line}", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def scenarios():
    """List the scenario library: each failure the study reports, and its cure under reliable delivery."""
    try:
        entries = library()
    except ScenarioError as exc:
        fail(str(exc))
    if not entries:
        fail("no scenario library found (set TESTBED_SCENARIOS to its folder)")
    width = max(len(e.name) for e in entries)
    for e in entries:
        print(f"{e.name:<{width}}  {e.scenario.delivery:<15}  {e.summary}")


def _print_summary(summary: dict) -> None:
    out = Console()
    b = summary["bookings"]
    lat = summary["latency_ms"]
    r = summary["run"]
    t = Table(title=f"run of {b['attempted']} bookings, seed {r['seed']}, {r['delivery']}, {r['faults']} fault rules"
                    f" ({r['stack']} stack)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for key in ("attempted", "accepted", "confirmed_at_gp", "refused", "unavailable", "errors"):
        t.add_row(key.replace("_", " "), str(b[key]))
    t.add_row("p50 booking latency (ms)", str(lat["p50"]))
    t.add_row("p99 booking latency (ms)", str(lat["p99"]))
    t.add_row("bookings/s", str(summary["bookings_per_s"]))
    clock = summary.get("clock")
    if clock and clock["mode"] == "virtual":
        t.add_row("duration real / simulated (s)", f"{clock['real_s']} / {clock['simulated_s']}")
    out.print(t)
    rates = summary.get("error_rates", {}).get("links", {})
    lt = Table(title="messages per link (measured)")
    lt.add_column("link")
    lt.add_column("attempts", justify="right")
    lt.add_column("outcomes")
    lt.add_column("error rate", justify="right")
    for link, entry in sorted(summary["links"].items()):
        rate = rates.get(link, {}).get("rate")
        lt.add_row(link, str(entry["attempts"]), ", ".join(f"{k} {v}" for k, v in sorted(entry["outcomes"].items())),
                   "" if rate is None else f"{rate:.3f}")
    out.print(lt)
    print_inputs(out, summary)
    rec = summary.get("reconciliation")
    if rec:
        rt = Table(title=f"reconciliation: {rec['disagreeing']} of {rec['attempted']} bookings disagree")
        rt.add_column("measure")
        rt.add_column("value", justify="right")
        rt.add_row("end-to-end error rate", f"{rec['error_rate']:.3f}")
        for kind in KINDS:
            rt.add_row(kind, str(rec["counts"][kind]))
        if rec.get("score"):
            rt.add_row("precision against the journal", f"{rec['score']['precision']:.3f}")
            rt.add_row("recall against the journal", f"{rec['score']['recall']:.3f}")
        out.print(rt)
    expectations = summary.get("expectations")
    if expectations and expectations["met"]:
        out.print("every expectation of the scenario was met")


# Every command module adds its commands the same way.
for register in (register_faults, register_contract, register_reconcile, register_report, register_replay):
    register(app)


def main() -> None:
    """Entry point: usage errors come out as one line too, not a multi-line box."""
    widen_piped_output()
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("testbed: error: aborted", file=sys.stderr)
        sys.exit(130)
    except TestbedError as exc:
        # Whatever a command did not catch itself: one line, and the exit code its class says.
        print(f"testbed: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (IsADirectoryError, NotADirectoryError) as exc:
        # A directory given where a file is expected (or the other way round), wherever a command met it.
        print(f"testbed: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        # Usage errors (the vendored click's UsageError family) carry format_message().
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            message = exc.format_message()
            if message:  # empty when the help was shown for a bare `testbed`
                print(f"testbed: error: {message}", file=sys.stderr)
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
