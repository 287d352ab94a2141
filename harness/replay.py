"""`testbed replay RUN_FOLDER`: the recorded run again, on a fresh stack, with the same decisions.

Three things make the replay repeat the recording rather than resemble it:
- the same request ids: the workload's seed and the salt the recording used (manifest.json), so every
  message id the broker derives from them is the same;
- the same fault decisions: the broker gets the recorded journal's decisions as a script keyed by
  message (booking_broker.faults.script), so timing cannot move a drop onto another message;
- the same order: bookings are driven one at a time in the order the recording's broker first saw
  them, so the spine hands out the same UBRNs to the same bookings.
Then the two journals and the two reconciliation reports are compared.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from booking_broker.faults.script import decisions_from_journal

from .embedded_stack import StackError
from .endpoints import StackUrls
from .replay_compare import comparable_report, journal_differences, report_differences
from .run_folder import write_json
from .run_record import RunFolderError, RunRecord, load_run
from .runner import RunOptions, run, stack_is_up
from .scenario import ScenarioError, parse_scenario
from .workload import MAX_BOOK_ATTEMPTS, BookingResult, Workload, request_id


@dataclass
class ReplayPlan:
    id_salt: str
    decisions: list[dict]
    order: list[int]

    async def configure(self, client: httpx.AsyncClient, urls: StackUrls) -> None:
        r = await client.put(f"{urls.broker}/faults/replay", json={"decisions": self.decisions})
        if r.status_code != 200:
            detail = (r.json().get("issue") or [{}])[0].get("diagnostics", r.text[:200])
            raise StackError(f"the broker refused the recorded decisions: {detail}")

    async def drive(self, workload: Workload, client: httpx.AsyncClient,
                    progress: Callable[[BookingResult], None] | None = None) -> list[BookingResult]:
        results = []
        for index in self.order:
            result = await workload.book_one(client, index)
            results.append(result)
            if progress:
                progress(result)
        return sorted(results, key=lambda r: r.index)


def booking_order(bookings: list[dict], journal: list[dict], seed: int, salt: str) -> list[int]:
    """Booking indexes in the order the recording's broker first journaled something of theirs."""
    owner = {request_id(seed, salt, b["index"], attempt): b["index"]
             for b in bookings for attempt in range(1, MAX_BOOK_ATTEMPTS + 1)}
    first: dict[int, int] = {}
    for e in journal:
        for rid in (e.get("bundle_id"), e.get("origin_id")):
            index = owner.get(rid)
            if index is not None and index not in first:
                first[index] = e["seq"]
    return sorted((b["index"] for b in bookings), key=lambda i: (first.get(i, math.inf), i))


def plan_for(record: RunRecord) -> ReplayPlan:
    journal = record.journal()
    seed = record.scenario.get("seed", 0)
    return ReplayPlan(id_salt=record.id_salt, decisions=decisions_from_journal(journal),
                      order=booking_order(record.bookings(), journal, seed, record.id_salt))


def free_local_urls(host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> StackUrls:
    """The parties' URLs on `host`: the ports given (non-zero), free ones for the rest."""
    chosen = {name: port for name, port in (ports or {}).items() if port}
    with ExitStack() as stack:
        for name in ("broker", "spine", "pas", "gp"):
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
