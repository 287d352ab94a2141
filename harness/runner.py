"""`testbed run`: a workload against a stack (started here when none is up), then its summary."""

from __future__ import annotations

import asyncio
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from party_common.fhir_json import FHIR_JSON
from party_common.identifiers import UBRN_SYSTEM

from .embedded_stack import EmbeddedStack
from .endpoints import StackUrls
from .run_folder import new_run_folder, write_json, write_jsonl
from .summary import links_delta, summarise
from .workload import BookingResult, Workload, discover


@dataclass
class RunOptions:
    bookings: int
    seed: int
    urls: StackUrls
    runs_dir: Path
    concurrency: int = 8
    horizon_days: int = 150


def stack_is_up(urls: StackUrls) -> bool:
    try:
        return httpx.get(f"{urls.broker}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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


async def drive(opts: RunOptions, folder: Path, progress=None) -> dict:
    limits = httpx.Limits(max_connections=opts.concurrency * 2, max_keepalive_connections=opts.concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers={"Accept": FHIR_JSON}) as client:
        population = await discover(client, opts.urls)
        links_before = (await client.get(f"{opts.urls.broker}/links")).json()
        workload = Workload(opts.urls, population, seed=opts.seed, bookings=opts.bookings,
                            concurrency=opts.concurrency, horizon_days=opts.horizon_days, run_id=folder.name)
        started = time.perf_counter()
        results: list[BookingResult] = await workload.run(client, progress)
        duration = time.perf_counter() - started
        links_after = (await client.get(f"{opts.urls.broker}/links")).json()
        accepted = {r.ubrn for r in results if r.ubrn}
        confirmed = await confirmed_at_gp(client, opts.urls, accepted)
    write_jsonl(folder / "bookings.jsonl", (r.as_json() for r in results))
    return summarise(results, duration_s=duration, confirmed_at_gp=confirmed,
                     links=links_delta(links_before, links_after))


def run(opts: RunOptions, progress_factory=None) -> tuple[dict, Path]:
    """Runs the workload; returns the summary and the run folder. Raises StackError/WorkloadError."""
    folder = new_run_folder(opts.runs_dir, opts.seed, opts.bookings)
    with ExitStack() as stack:
        embedded = not stack_is_up(opts.urls)
        if embedded:
            stack.enter_context(EmbeddedStack(opts.urls, data_dir=folder / "data", log_dir=folder / "logs"))
        progress = stack.enter_context(progress_factory(opts.bookings)) if progress_factory else None
        summary = asyncio.run(drive(opts, folder, progress))
    if embedded:
        # The databases are the parties' records of this run: kept for inspection, small enough.
        shutil.rmtree(folder / "data" / "__pycache__", ignore_errors=True)
    summary = {
        "run": {"folder": str(folder), "seed": opts.seed, "bookings": opts.bookings,
                "stack": "embedded" if embedded else "external", "urls": opts.urls.as_dict(),
                "concurrency": opts.concurrency},
        **summary,
    }
    write_json(folder / "summary.json", summary)
    if not embedded:
        (folder / "logs").mkdir(exist_ok=True)
        (folder / "logs" / "README.txt").write_text(
            "The stack was already running, so its parties write their logs where it was started.\n")
    return summary, folder
