"""`testbed replay RUN_FOLDER`: the recorded run again, on a fresh stack, with the same decisions.

Three things make the replay repeat the recording rather than resemble it:
- the same request ids: the workload's seed and the salt the recording used (manifest.json), so every
  message id the broker derives from them is the same;
- the same fault decisions: the broker gets the recorded journal's decisions as a script keyed by
  message (party_common/journal_entries.py), so timing cannot move a drop onto another message;
- the same UBRNs: the broker lets its UBRN allocations through in the recorded order (the script's
  `order`), so the spine hands the same numbers to the same bookings whatever the concurrency.
In a run with legacy trusts the middleware gets its own journal's decisions the same way (its spine
look-ups and MLLP sends), so its restarts, which follow from its failed look-ups, come again.
Then the journals (the broker's, and the middleware's), the middleware's restarts and the two
reconciliation reports are compared; on a virtual clock the journals' times are compared too.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.stack.embedded import StackError
from harness.stack.endpoints import DEFAULT_MLLP_PORT, StackUrls
from harness.replay.compare import (comparable_report, journal_differences, report_differences,
                                    restart_differences)
from harness.replay.plan import plan_for
from harness.run.folder import write_json
from harness.run.record import MIDDLEWARE_JOURNAL, MIDDLEWARE_QUEUE, RunFolderError, RunRecord, load_run
from harness.run.runner import RunOptions, run, stack_is_up
from harness.scenario.model import ScenarioError, parse_scenario


def free_mllp_port(host: str = "127.0.0.1", count: int = 1, tries: int = 50) -> int:
    """The first of `count` consecutive free ports on `host`: an embedded legacy PAS listens for MLLP on
    one port per legacy trust, numbered on from the first (harness/stack/endpoints.py mllp_ports)."""
    for _ in range(tries):
        with ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind((host, 0))
            start = first.getsockname()[1]
            try:
                for port in range(start + 1, start + count):
                    stack.enter_context(socket.socket()).bind((host, port))
            except OSError:
                continue   # a neighbour is taken (or past 65535): another first port
            return start
    raise StackError(f"found no {count} consecutive free ports on {host} for the legacy PAS's MLLP listeners"
                     " (give one with --mllp-port)")


def free_local_urls(host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> StackUrls:
    """The parties' URLs on `host`: the ports given (non-zero), free ones for the rest."""
    chosen = {name: port for name, port in (ports or {}).items() if port}
    with ExitStack() as stack:
        # The middleware's and legacy PAS's too: a run without legacy trusts leaves them out (urls_for).
        for name in ("broker", "spine", "pas", "gp", "middleware", "legacy_pas"):
            if name not in chosen:
                s = stack.enter_context(socket.socket())
                s.bind((host, 0))
                chosen[name] = s.getsockname()[1]
    return StackUrls.local(host, chosen)


@dataclass
class ReplayOutcome:
    recorded: Path
    folder: Path
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)   # the files compared (replay.json's `compared`)

    @property
    def identical(self) -> bool:
        return not self.differences


def replay_run(folder: Path, urls: StackUrls | None = None, runs_dir: Path | None = None,
               progress_factory=None, mllp_port: int = 0) -> ReplayOutcome:
    """Replays a run folder on a fresh embedded stack; raises RunFolderError or StackError (one line).

    `mllp_port`: the legacy PAS's first MLLP port (0: free ones), as `urls` gives the HTTP ports.
    """
    record = load_run(folder)
    try:
        scenario = parse_scenario(record.scenario, str(folder / "scenario.json"))
    except ScenarioError as exc:
        raise RunFolderError(str(exc)) from None
    urls = urls or free_local_urls()
    if stack_is_up(urls):
        raise StackError(f"a stack is already up at {urls.broker}: a replay needs a fresh one (give free ports)")
    warnings = []
    if record.summary.get("run", {}).get("stack") == "external":
        warnings.append("the recording ran on a stack that was up before it; bookings made earlier there are"
                        " not in the fresh stack, so UBRNs may differ")
    if not mllp_port and scenario.legacy is not None:
        mllp_port = free_mllp_port(httpx.URL(urls.broker).host, len(scenario.legacy_trusts))
    plan = plan_for(record)
    summary, new_folder = run(RunOptions(scenario=scenario, urls=urls, runs_dir=runs_dir or folder.parent,
                                         replay=plan, mllp_port=mllp_port or DEFAULT_MLLP_PORT),
                              progress_factory)
    replayed = load_run(new_folder)
    compared, differences = compare_runs(record, replayed, timed=scenario.clock.mode == "virtual")
    write_json(new_folder / "replay.json", {"of": str(folder), "identical": not differences,
                                            "compared": compared, "scripts": plan.used,
                                            "differences": differences})
    return ReplayOutcome(folder, new_folder, differences, warnings, compared)


def compare_runs(record: RunRecord, replayed: RunRecord, *, timed: bool) -> tuple[list[str], list[str]]:
    """(what was compared, every difference): the broker's journal and the reconciliation report always;
    the middleware's journal and restarts when the recording has them. `timed`: a virtual clock's
    times are compared too."""
    compared = ["journal.jsonl"]
    differences = journal_differences(record.journal(), replayed.journal(), timed=timed)
    if (record.folder / MIDDLEWARE_JOURNAL).is_file():
        compared.append(MIDDLEWARE_JOURNAL)
        differences += journal_differences(record.middleware_journal(), replayed.middleware_journal(),
                                           name="middleware journal", timed=timed)
    if (record.folder / MIDDLEWARE_QUEUE).is_file():
        compared.append(f"{MIDDLEWARE_QUEUE} (restarts)")
        differences += restart_differences(record.middleware_restarts(), replayed.middleware_restarts(),
                                           timed=timed)
    compared.append("reconciliation.json")
    differences += report_differences(comparable_report(record.reconciliation(), record.urls),
                                      comparable_report(replayed.reconciliation(), replayed.urls))
    return compared, differences
