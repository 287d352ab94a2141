"""`testbed replay RUN_FOLDER`: the recorded run again, on a fresh stack, with the same decisions.

Three things make the replay repeat the recording rather than resemble it:
- the same request ids: the workload's seed and the salt the recording used (manifest.json), so every
  message id the broker derives from them is the same;
- the same fault decisions: the broker gets the recorded journal's decisions as a script keyed by
  message (party_common/journal_entries.py), so timing cannot move a drop onto another message;
- the same UBRNs: the broker lets its UBRN allocations through in the recorded order (the script's
  `order`), so the spine hands the same numbers to the same bookings whatever the concurrency.
Then the two journals and the two reconciliation reports are compared.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from harness.stack.embedded import StackError
from harness.stack.endpoints import StackUrls
from harness.replay.compare import comparable_report, journal_differences, report_differences
from harness.replay.plan import plan_for
from harness.run.folder import write_json
from harness.run.record import RunFolderError, load_run
from harness.run.runner import RunOptions, run, stack_is_up
from harness.scenario.model import ScenarioError, parse_scenario


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

    @property
    def identical(self) -> bool:
        return not self.differences


def replay_run(folder: Path, urls: StackUrls | None = None, runs_dir: Path | None = None,
               progress_factory=None) -> ReplayOutcome:
    """Replays a run folder on a fresh embedded stack; raises RunFolderError or StackError (one line)."""
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
    summary, new_folder = run(RunOptions(scenario=scenario, urls=urls, runs_dir=runs_dir or folder.parent,
                                         replay=plan_for(record)), progress_factory)
    replayed = load_run(new_folder)
    differences = (journal_differences(record.journal(), replayed.journal())
                   + report_differences(comparable_report(record.reconciliation(), record.urls),
                                        comparable_report(replayed.reconciliation(), replayed.urls)))
    write_json(new_folder / "replay.json", {"of": str(folder), "identical": not differences,
                                            "differences": differences})
    return ReplayOutcome(folder, new_folder, differences, warnings)
