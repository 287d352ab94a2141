"""`testbed run`: a scenario's workload against a stack (started here when none is up), then its summary."""

from __future__ import annotations

import asyncio
import json
import functools
import itertools
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from party_common.control_auth import add_control_token
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import add_trace_headers
from party_common.identifiers import UBRN_SYSTEM
from party_common.trust_catalogue import DEFAULT_TRUSTS

from harness.cli.errors import TestbedError
from harness.run.arrivals import arrival_times
from harness.run.clock_driver import ClockDriver, harness_activity, refuse_virtual_stack
from harness.stack.embedded import LEGACY_PARTIES, PARTIES, EmbeddedStack, StackError, trusts_json
from harness.stack.endpoints import DEFAULT_MLLP_PORT, StackUrls
from harness.run.error_rates import expectation_misses, link_rates
from harness.run.inputs import inputs_and_outcomes
from harness.run.followups import FollowUps, summarise as summarise_followups
from harness.run.pacing import QUIET_S, paced_by_system_clock, paced_by_virtual_clock
from harness.reconcile import ReconcileJob, run_job
from harness.replay.plan import ReplayPlan
from harness.report.html import write_report
from harness.run.folder import new_run_folder, write_json, write_jsonl
from harness.run.record import save_replay_material
from harness.scenario.model import Scenario
from harness.run.summary import links_delta, summarise
from harness.reconcile.sources import PartyUnreachable
from harness.reconcile.legacy import read_extract, read_middleware_journal, tag_middleware
from harness.run.record import LEGACY_EXTRACT, MIDDLEWARE_JOURNAL, MIDDLEWARE_QUEUE
from harness.run.workload import BookingResult, Pacer, Workload, WorkloadError, discover


@dataclass
class RunOptions:
    scenario: Scenario
    urls: StackUrls
    runs_dir: Path
    horizon_days: int = 150
    drain_timeout_s: float = 120.0
    replay: ReplayPlan | None = None      # `testbed replay`: recorded request ids and fault decisions
    keep_rules: bool = False               # add the scenario's fault rules to the broker's, not replace them
    mllp_port: int = DEFAULT_MLLP_PORT     # an embedded legacy PAS's MLLP port for its first trust

    @property
    def bookings(self) -> int:
        return self.scenario.workload.bookings

    @property
    def seed(self) -> int:
        return self.scenario.seed


def urls_for(scenario: Scenario, urls: StackUrls) -> StackUrls:
    """The parties a run of `scenario` works with: the middleware and legacy PAS only when it has
    legacy trusts (at their default ports beside the broker unless given), so that a run without
    them neither reads nor drives parties it does not have."""
    return urls.with_legacy() if scenario.legacy is not None else urls.without_legacy()


def stack_is_up(urls: StackUrls) -> bool:
    try:
        return httpx.get(f"{urls.broker}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def receiver_env(scenario: Scenario) -> dict[str, str]:
    """The settings an embedded stack's parties start with: the scenario's receivers, population and
    the broker's outbox backoff."""
    flag = "true" if scenario.receivers.dedupe else "false"
    env = {"SPINE_DEDUPE": flag, "PAS_DEDUPE": flag, "GP_DEDUPE": flag}
    size = str(scenario.population.population_size)
    env.update(SPINE_POPULATION_SIZE=size, GP_POPULATION_SIZE=size)
    trusts = scenario.population.trusts
    legacy = scenario.legacy
    if legacy is not None:
        # The legacy trusts are kept by the legacy PAS behind the middleware, not by the FHIR PAS.
        env["PAS_TRUSTS"] = trusts_json([t for t in trusts if t not in legacy.trusts])
        env["LEGACY_PAS_TRUSTS"] = env["MIDDLEWARE_TRUSTS"] = trusts_json(legacy.trusts)
        env["LEGACY_PAS_ACK_DELAY_MS"] = str(legacy.pas.ack_delay_ms)
        env.update(legacy.middleware_env())
    elif len(trusts) < len(DEFAULT_TRUSTS):
        env["PAS_TRUSTS"] = json.dumps([t for t in DEFAULT_TRUSTS if t["ods"] in trusts])
    if scenario.receivers.sites:
        env["PAS_SITES"] = json.dumps({code: b.model_dump() for code, b in scenario.receivers.sites.items()})
    if scenario.outbox.max_backoff_s is not None:
        env["BROKER_OUTBOX_MAX_BACKOFF_S"] = str(scenario.outbox.max_backoff_s)
    return env


def clock_env(scenario: Scenario) -> dict[str, str]:
    """Every party on the scenario's clock (the middleware and legacy PAS with legacy trusts)."""
    epoch = scenario.clock.epoch.isoformat().replace("+00:00", "Z")
    env: dict[str, str] = {}
    for spec in [*PARTIES, *(LEGACY_PARTIES if scenario.legacy is not None else [])]:
        env[f"{spec.env_prefix}CLOCK"] = scenario.clock.mode
        env[f"{spec.env_prefix}CLOCK_EPOCH"] = epoch
    return env


def pacer_for(scenario: Scenario, driver: ClockDriver | None) -> Pacer | None:
    """How the workload's bookings are started: at their arrival times, on the run's clock."""
    spec = scenario.workload
    times = arrival_times(spec.arrival, spec.bookings, scenario.seed)
    if driver is not None:
        return functools.partial(paced_by_virtual_clock, times=times, concurrency=spec.concurrency, driver=driver)
    if times is not None:
        return functools.partial(paced_by_system_clock, times=times, concurrency=spec.concurrency)
    return None


async def confirmed_at_gp(client: httpx.AsyncClient, urls: StackUrls, ubrns: set[str]) -> int:
    """How many of the accepted bookings the practices know as booked: their own view."""
    confirmed = 0
    orgs = (await client.get(f"{urls.gp}/Organization")).json()
    for entry in orgs.get("entry", []):
        ods = entry["resource"]["identifier"][0]["value"]
        url: str | None = f"{urls.gp}/{ods}/Appointment?_count=1000"
        while url:
            bundle = (await client.get(url)).json()
            for e in bundle.get("entry", []):
                appt = e["resource"]
                ubrn = next((i["value"] for i in appt.get("identifier", []) if i.get("system") == UBRN_SYSTEM), None)
                if ubrn in ubrns and appt.get("status") == "booked":
                    confirmed += 1
            url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return confirmed


async def configure_broker(client: httpx.AsyncClient, urls: StackUrls, scenario: Scenario, *,
                           keep_rules: bool = False) -> dict:
    """Puts the scenario's fault plan and delivery mode on the broker.

    The plan replaces the rules already there (`testbed faults add` before the run) unless
    `keep_rules`, when they are kept ahead of the scenario's; either way the count is returned for
    the summary, so nobody reads a run's outcome without knowing which rules shaped it, with the
    rules in force as the broker answered them (the run's configured inputs, harness/run/inputs.py).
    """
    plan = scenario.fault_plan()
    current = (await client.get(f"{urls.broker}/faults")).json().get("rules") or []
    if keep_rules:
        # The broker numbers rules without an id from r1 on each PUT: the scenario's get the next
        # free numbers so they cannot clash with the ids of the rules kept.
        taken = {r.get("id") for r in current}
        free = (f"r{n}" for n in itertools.count(1) if f"r{n}" not in taken)
        added = [r if r.get("id") else {**r, "id": next(free)} for r in plan.get("rules", [])]
        plan = {**plan, "rules": [*current, *added]}
    in_force: list[dict] = []
    for method, path, body in (("PUT", "/faults", plan), ("PUT", "/delivery", {"mode": scenario.delivery})):
        r = await client.request(method, f"{urls.broker}{path}", json=body)
        if r.status_code != 200:
            detail = (r.json().get("issue") or [{}])[0].get("diagnostics", r.text[:200])
            raise StackError(f"the broker refused the scenario ({method} {path}): {detail}")
        if path == "/faults":
            in_force = r.json().get("rules") or []   # as the broker numbered them: the journal's rule ids
    return {"kept": len(current) if keep_rules else 0, "replaced": 0 if keep_rules else len(current),
            "rules": in_force}


async def require_middleware(client: httpx.AsyncClient, urls: StackUrls) -> None:
    """A scenario with legacy trusts needs the middleware and legacy PAS: a stack up without them
    (started with no `--legacy-trust`) is refused in one line before any booking."""
    for name, url in (("middleware", urls.middleware), ("legacy PAS", urls.legacy_pas)):
        try:
            ok = (await client.get(f"{url}/health")).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            raise StackError(f"the scenario has legacy trusts, but no {name} answers at {url} (a stack already up "
                             "without them? stop it, or start it with `testbed up --legacy-trust ...`)")


async def configure_middleware(client: httpx.AsyncClient, base: str, scenario: Scenario) -> list[dict]:
    """Puts the scenario's rules on the middleware's links (`middleware->...`) on the middleware,
    replacing any there, as the broker's are put on the broker; returns them as the middleware
    answered (its own rule ids), marked as the middleware's, for the run's configured inputs."""
    r = await client.put(f"{base}/faults", json=scenario.fault_plan("middleware"))
    if r.status_code != 200:
        detail = (r.json().get("issue") or [{}])[0].get("diagnostics", r.text[:200])
        raise StackError(f"the middleware refused the scenario's fault plan (PUT /faults): {detail}")
    return [{**rule, "party": "middleware"} for rule in r.json().get("rules") or []]


# How far a drain on a virtual clock may move simulated time: a day, far beyond any backoff or restart
# a scenario sets, so only a stack that never drains reaches it.
VIRTUAL_DRAIN_CAP_S = 24 * 3600.0


async def wait_for_drain(client: httpx.AsyncClient, urls: StackUrls, timeout: float,
                         driver: ClockDriver | None = None) -> dict:
    """Waits until the outbox is empty and no message is held back; returns the last reading.

    On a virtual clock, once no party has work under way the rest waits on simulated time (retry
    backoffs, held messages' release): the clocks move to the earliest wakeup. Gives up after
    `timeout` real seconds; on a virtual clock, after `timeout` real seconds in which simulated time
    did not move, or once it has moved VIRTUAL_DRAIN_CAP_S past where the drain began. A drain that
    is getting somewhere is never cut short by how fast the machine is: with a real-time limit alone,
    a loaded machine ended the reliable cure of choose-and-book-2006 (hours of simulated restarts and
    resends) before its outbox had drained and counted what was still on its way as lost.
    """
    deadline = time.monotonic() + timeout
    started_at = moved_at = driver.at if driver is not None else 0.0
    while True:
        state = (await client.get(f"{urls.broker}/outbox")).json()
        drained = state["depth"] == 0 and state["held"] == 0
        if drained and urls.middleware:
            # A stack with legacy trusts has drained once the middleware's queue has too (or is gone
            # for good with a restart: what it held in memory is lost, not owed).
            state = {**state, "middleware": await middleware_queue(client, urls.middleware)}
            drained = state["middleware"]["drained"]
        if driver is not None and driver.at > moved_at:
            moved_at, deadline = driver.at, time.monotonic() + timeout   # progress: the patience starts again
        if drained or time.monotonic() > deadline or moved_at - started_at > VIRTUAL_DRAIN_CAP_S:
            return state
        wakeup = await driver.next_wakeup() if driver else None
        if driver is not None and wakeup is not None:
            await driver.advance_to(wakeup)
        else:
            await asyncio.sleep(0.1 if driver is None else QUIET_S)


async def middleware_queue(client: httpx.AsyncClient, base: str) -> dict:
    """The middleware's queue (`GET /queue`) in brief: its depth, whether it is restarting, and
    whether it has drained (nothing queued, held or restarting)."""
    r = await client.get(f"{base}/queue")
    if r.status_code != 200:   # restarting: it answers nothing until it is back
        return {"depth": None, "restarting": True, "drained": False}
    q = r.json()
    depth, held, restarting = q.get("depth") or 0, q.get("held") or 0, bool(q.get("restarting"))
    return {"mode": q.get("mode"), "depth": depth, "held": held, "restarting": restarting,
            "restarts": len(r) if isinstance(r := q.get("restarts"), list) else r, "drained": depth == 0 and held == 0 and not restarting}


async def journal_head(client: httpx.AsyncClient, base: str) -> int:
    return (await client.get(f"{base}/journal", params={"_count": 1})).json()["head"]


async def save_legacy_material(client: httpx.AsyncClient, urls: StackUrls, folder: Path,
                               middleware_journal: list[dict]) -> None:
    """The middleware's journal and the legacy PAS's extract, beside the broker's journal, so the
    folder is judged offline as any other (`testbed check --run`); and its queue, whose restarts
    (when, why, what each lost) no journal entry records: a trace and a replay read them."""
    assert urls.legacy_pas is not None and urls.middleware is not None
    write_jsonl(folder / MIDDLEWARE_JOURNAL, middleware_journal)
    write_json(folder / LEGACY_EXTRACT, await read_extract(client, urls.legacy_pas))
    queue = await client.get(f"{urls.middleware}/queue")
    queue.raise_for_status()
    write_json(folder / MIDDLEWARE_QUEUE, queue.json())


async def read_journal(client: httpx.AsyncClient, urls: StackUrls, since: int) -> list[dict]:
    entries: list[dict] = []
    while True:
        page = (await client.get(f"{urls.broker}/journal", params={"since": since, "_count": 5000})).json()
        entries += page["entries"]
        if "next" not in page:
            return entries
        since = page["last"]


class RunIncomplete(TestbedError, RuntimeError):
    """The run stopped part-way; what it had is in its folder (summary marked incomplete)."""


async def drive(opts: RunOptions, folder: Path, progress=None, embedded: bool = True,
                transport: httpx.AsyncBaseTransport | None = None) -> dict:
    """`transport` reaches the parties some other way than sockets (tests' in-process stack).

    Whatever stops the run part-way (a party gone, a refusal), the bookings answered so far, the
    journal as far as it can be read and a summary marked `incomplete` are written before the error
    is raised again as RunIncomplete: a run that took minutes never ends with nothing to look at.
    """
    scenario = opts.scenario
    opts.urls = urls_for(scenario, opts.urls)
    concurrency = scenario.workload.concurrency
    # An idle connection is let go well before uvicorn's 5 s keep-alive drops it: at httpx's default
    # (also 5 s) a request sent as the server closed the connection failed with "Server disconnected
    # without sending a response" and stopped a virtual-clock run on a loaded machine.
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2,
                          keepalive_expiry=2.0)
    stage = "discover"
    workload: Workload | None = None
    journal_since: int | None = None
    activity = None
    if scenario.clock.mode == "virtual":
        # The harness's calls counted as the parties count theirs (clock_driver.harness_activity).
        activity, transport = harness_activity(transport or httpx.AsyncHTTPTransport(limits=limits))
    async with httpx.AsyncClient(timeout=60, limits=limits, headers={"Accept": FHIR_JSON},
                                 event_hooks={"request": [add_trace_headers, add_control_token]},
                                 transport=transport) as client:
        def at(update: dict) -> None:
            nonlocal stage, workload, journal_since
            stage = update.get("stage", stage)
            workload = update.get("workload", workload)
            journal_since = update.get("journal_since", journal_since)

        try:
            return await _drive(opts, folder, client, progress, embedded, at, activity)
        except (httpx.HTTPError, StackError, WorkloadError, PartyUnreachable, ValueError, KeyError) as exc:
            if workload is None:
                raise  # refused before any booking was made: nothing to keep, the error says it all
            await _write_partial(client, opts, folder, stage, exc, workload, journal_since)
            raise RunIncomplete(f"the run stopped while {STAGES[stage]} ({_why(exc)}); what it had is in {folder}") \
                from exc


STAGES = {"discover": "reading the practices and services", "configure": "setting the broker's fault plan",
          "workload": "driving bookings", "drain": "waiting for the broker's outbox to drain",
          "followups": "cancelling and rebooking", "confirm": "reading the practices' bookings",
          "journal": "reading the broker's journal", "reconcile": "reconciling the parties' records",
          "record": "saving the replay material"}


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _write_partial(client: httpx.AsyncClient, opts: RunOptions, folder: Path, stage: str,
                         exc: BaseException, workload: Workload | None, journal_since: int | None) -> None:
    results = list(workload.done) if workload is not None else []
    journal: list[dict] = []
    journal_note = "not read: the run stopped before the workload started"
    if journal_since is not None:
        try:
            journal = await read_journal(client, opts.urls, journal_since)
            journal_note = "read after the run stopped"
        except (httpx.HTTPError, ValueError, KeyError) as err:
            journal_note = f"could not be read ({_why(err)})"
    write_jsonl(folder / "bookings.jsonl", (r.as_json() for r in results))
    write_jsonl(folder / "journal.jsonl", journal)
    summary = summarise(results, duration_s=0.0, confirmed_at_gp=None, links={})
    summary["incomplete"] = {"stage": stage, "while": STAGES[stage], "error": _why(exc),
                             "journal": journal_note, "journal_entries": len(journal)}
    write_json(folder / "summary.json", _with_run_header(opts, folder, summary, embedded=None))


async def _drive(opts: RunOptions, folder: Path, client: httpx.AsyncClient, progress, embedded: bool,
                 at, activity=None) -> dict:
    scenario = opts.scenario
    concurrency = scenario.workload.concurrency
    people = scenario.population
    if opts.urls.middleware:
        await require_middleware(client, opts.urls)
    population = await discover(client, opts.urls, people.patients_per_practice,
                                people.practice_codes, people.trusts)
    at({"stage": "configure"})
    driver = ClockDriver(client, opts.urls, activity) if scenario.clock.mode == "virtual" else None
    if driver is not None:
        # Before the fault plan: its windows count from when it is put, which is the workload's start.
        await driver.start()
    else:
        await refuse_virtual_stack(client, opts.urls)
    simulated_from = driver.at if driver else None
    replaced = await configure_broker(client, opts.urls, scenario, keep_rules=opts.keep_rules)
    if opts.urls.middleware:
        replaced["rules"] = [*replaced["rules"], *await configure_middleware(client, opts.urls.middleware, scenario)]
    if opts.replay:
        await opts.replay.configure(client, opts.urls)
    journal_since = (await client.get(f"{opts.urls.broker}/journal", params={"_count": 1})).json()["head"]
    middleware_since = await journal_head(client, opts.urls.middleware) if opts.urls.middleware else None
    links_before = (await client.get(f"{opts.urls.broker}/links")).json()
    id_salt = opts.replay.id_salt if opts.replay else str(journal_since)
    workload = Workload(opts.urls, population, seed=scenario.seed, bookings=scenario.workload.bookings,
                        concurrency=concurrency, horizon_days=opts.horizon_days, run_id=folder.name,
                        id_salt=id_salt)
    at({"stage": "workload", "workload": workload, "journal_since": journal_since})
    started = time.perf_counter()
    results: list[BookingResult] = await workload.run(client, progress, pacer_for(scenario, driver))
    at({"stage": "drain"})
    drained = await wait_for_drain(client, opts.urls, opts.drain_timeout_s, driver)
    duration = time.perf_counter() - started
    simulated = driver.at - simulated_from if driver is not None and simulated_from is not None else None

    async def settle():
        nonlocal drained
        drained = await wait_for_drain(client, opts.urls, opts.drain_timeout_s, driver)

    at({"stage": "followups"})
    followups = await FollowUps(workload, scenario.workload.cancellations,
                                scenario.workload.rebookings).run(client, results, settle)
    rebooked = {f.ubrn for f in followups if f.action == "rebook" and f.ubrn}
    followups_s = time.perf_counter() - started - duration
    at({"stage": "confirm"})
    links_after = (await client.get(f"{opts.urls.broker}/links")).json()
    accepted = {r.ubrn for r in results if r.ubrn}
    confirmed = await confirmed_at_gp(client, opts.urls, accepted)
    at({"stage": "journal"})
    journal = await read_journal(client, opts.urls, journal_since)
    middleware_journal: list[dict] = []
    if opts.urls.middleware and middleware_since is not None:
        middleware_journal = tag_middleware(await read_middleware_journal(client, opts.urls.middleware,
                                                                          middleware_since))
    # The middleware's hops to a legacy PAS are scored beside the broker's (reconcile/score.py).
    both = [*journal, *middleware_journal]
    # The run ends by reconciling its own bookings (those it was answered for, and any the
    # journal names): on a stack that was up before, earlier runs' bookings are not its business.
    scope = accepted | rebooked | {e["ubrn"] for e in both if e.get("ubrn")}
    # The scenario's receivers setting reaches only a stack this run started.
    dedupe = scenario.receivers.dedupe if embedded else True
    at({"stage": "reconcile"})
    reconciliation, report = await run_job(client, ReconcileJob(
        urls=opts.urls, scope=scope, attempted=len(results) + sum(f.action == "rebook" for f in followups),
        settle_s=10, journal=both, dedupe=dedupe, legacy=scenario.legacy is not None,
        legacy_trusts=tuple(scenario.legacy_trusts)))
    at({"stage": "record"})
    if opts.replay:
        await opts.replay.read_back(client, opts.urls)   # how each party used its script: replay.json
    await save_replay_material(client, opts.urls, folder, since=journal_since, id_salt=id_salt,
                               reconciliation=reconciliation)
    write_jsonl(folder / "bookings.jsonl", (r.as_json() for r in results))
    write_jsonl(folder / "journal.jsonl", journal)
    if opts.urls.legacy_pas:
        await save_legacy_material(client, opts.urls, folder, middleware_journal)
    write_jsonl(folder / "followups.jsonl", (f.as_json() for f in followups))
    write_json(folder / "reconciliation.json", report)
    summary = summarise(results, duration_s=duration, confirmed_at_gp=confirmed,
                        links=links_delta(links_before, links_after))
    summary["clock"] = {"mode": scenario.clock.mode, "real_s": round(duration, 3),
                        "simulated_s": round(simulated if simulated is not None else duration, 3)}
    summary["outbox_after_drain"] = drained
    summary["followups"] = {**summarise_followups(followups), "duration_s": round(followups_s, 3)}
    summary["journal_entries"] = len(journal)
    summary["fault_rules"] = {"scenario": len(scenario.faults), "kept_from_broker": replaced["kept"],
                              "replaced_on_broker": replaced["replaced"]}
    summary["reconciliation"] = {**reconciliation.summary(), "score": report.get("score")}
    rates = link_rates(both)   # the middleware's links beside the broker's
    summary["error_rates"] = {"end_to_end": reconciliation.error_rate, "links": rates}
    # Injected versus emergent: the rules and receivers' settings the run was given, beside what came of it.
    summary.update(inputs_and_outcomes(replaced["rules"], scenario.model_dump(by_alias=True, exclude_none=True),
                                       both, report, rates))
    return summary


def _with_run_header(opts: RunOptions, folder: Path, summary: dict, embedded: bool | None) -> dict:
    stack = "unknown" if embedded is None else ("embedded" if embedded else "external")
    return {
        "run": {"folder": str(folder), "seed": opts.seed, "bookings": opts.bookings,
                "scenario": opts.scenario.name, "delivery": opts.scenario.delivery,
                "faults": len(opts.scenario.faults), "stack": stack,
                "urls": opts.urls.as_dict(), "concurrency": opts.scenario.workload.concurrency},
        **summary,
    }


def run(opts: RunOptions, progress_factory=None) -> tuple[dict, Path]:
    """Runs the scenario; returns the summary and the run folder.

    Raises StackError/WorkloadError, or PartyUnreachable when the final reconciliation cannot read a party.
    """
    opts.urls = urls_for(opts.scenario, opts.urls)
    folder = new_run_folder(opts.runs_dir, opts.seed, opts.bookings)
    write_json(folder / "scenario.json", opts.scenario.model_dump(by_alias=True, exclude_none=True))
    with ExitStack() as stack:
        embedded = not stack_is_up(opts.urls)
        if embedded:
            stack.enter_context(EmbeddedStack(opts.urls, data_dir=folder / "data", log_dir=folder / "logs",
                                              extra_env={**receiver_env(opts.scenario), **clock_env(opts.scenario)},
                                              legacy_trusts=opts.scenario.legacy_trusts, mllp_port=opts.mllp_port))
        progress = stack.enter_context(progress_factory(opts.bookings)) if progress_factory else None
        summary = asyncio.run(drive(opts, folder, progress, embedded))
    summary = _with_run_header(opts, folder, summary, embedded)
    if opts.scenario.expect is not None:
        missed = expectation_misses(opts.scenario.expect, summary["reconciliation"],
                                    summary["error_rates"]["links"], summary["reconciliation"]["score"])
        summary["expectations"] = {"met": not missed, "missed": missed}
    write_json(folder / "summary.json", summary)
    write_report(folder)
    if not embedded:
        (folder / "logs").mkdir(exist_ok=True)
        (folder / "logs" / "README.txt").write_text(
            "The stack was already running, so its parties write their logs where it was started.\n")
    return summary, folder
