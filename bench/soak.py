"""Soak: the embedded stack books without pause for --minutes; memory and cost per booking must stay flat.

The four parties run as real processes on loopback (harness/stack/embedded.py, as `testbed run`
starts them), each with its SQLite file. Practices book as in `testbed run` (harness/run/workload.py),
`--concurrency` at a time, each booking asking for a slot of its own from the seed, until the time is
up. Every `--sample-seconds` the script reads each party's resident memory and CPU time from /proc.

It prints, for each party, RSS at the start of the measured period and at the end, and
bookings/s and CPU ms per booking in the measured period's first and last minute, with their ratios.
The measured period starts after a warm-up: at least `--warmup-minutes`, and then until the broker's
message log (the bodies it keeps for replay, bounded by BROKER_MESSAGE_LOG_BYTES, 64 MB by default)
has reached its bound, so that growth to a bound is not read as a leak, nor a leak hidden by it.
It exits 1 when a bound is broken: a party's RSS at the end more than `--rss-bound` (10%) away from
its start, or the last minute's bookings/s more than `--rate-bound` (10%) away from the first's.
Bookings/s moves with whatever else the machine runs; CPU per booking, printed beside it, much less.

    python bench/soak.py --minutes 20 --concurrency 8 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e_throughput import free_ports  # noqa: E402
from bench.proc_stats import cpu_seconds, rss_bytes  # noqa: E402
from harness.stack.embedded import PARTIES, EmbeddedStack  # noqa: E402
from harness.stack.endpoints import StackUrls  # noqa: E402
from harness.run.workload import Workload, discover  # noqa: E402
from party_common.http_client import add_trace_headers  # noqa: E402

NAMES = [p.name for p in PARTIES]
MB = 1024 * 1024


@dataclass
class Sample:
    t: float                      # seconds since the drive started
    booked: int                   # bookings accepted so far
    rss: dict[str, int]           # party -> bytes
    cpu: dict[str, float]         # party (and "driver") -> CPU seconds so far


@dataclass
class Tally:
    booked: int = 0
    refused: int = 0              # a 4xx: no free slot, a slot lost five times over
    failed: int = 0               # a 5xx or no answer
    measured_from: float = 0.0    # seconds into the drive when the warm-up ended
    samples: list[Sample] = field(default_factory=list)


def sample(pids: dict[str, int], started: float, tally: Tally) -> Sample:
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu["driver"] = time.process_time()
    return Sample(time.monotonic() - started, tally.booked, {name: rss_bytes(pid) for name, pid in pids.items()}, cpu)


async def log_full(client: httpx.AsyncClient, broker: str) -> bool:
    """Whether the broker's message log has reached its byte bound (it has rolled messages off)."""
    r = await client.get(f"{broker}/journal/messages", params={"since": 10**9, "_count": 1})
    return r.status_code == 200 and r.json().get("rolled_off", 0) > 0


async def drive(workload: Workload, client: httpx.AsyncClient, pids: dict[str, int], args) -> Tally:
    """Books until `args.minutes` after the warm-up; the warm-up lasts `args.warmup_minutes` and
    then until the broker's message log is full (at most `args.max_warmup_minutes`), so that the
    measured period starts with every bounded store at its bound."""
    tally = Tally()
    started = time.monotonic()
    end: float | None = None
    next_index = iter(range(10**9))

    async def practice() -> None:
        while end is None or time.monotonic() < end:
            result = await workload.book_one(client, next(next_index))
            if result.outcome == "accepted":
                tally.booked += 1
            elif result.outcome == "refused":
                tally.refused += 1
            else:
                tally.failed += 1

    async def sampler() -> None:
        nonlocal end
        while True:
            now = sample(pids, started, tally)
            tally.samples.append(now)
            if end is None and now.t >= args.warmup_minutes * 60 and (
                    now.t >= args.max_warmup_minutes * 60 or await log_full(client, workload.urls.broker)):
                tally.measured_from = now.t
                end = time.monotonic() + args.minutes * 60
            await asyncio.sleep(args.sample_seconds)

    watcher = asyncio.create_task(sampler())
    try:
        await asyncio.gather(*(practice() for _ in range(args.concurrency)))
    finally:
        watcher.cancel()
    tally.samples.append(sample(pids, started, tally))
    return tally


def at(samples: list[Sample], t: float) -> Sample:
    """The sample taken nearest to `t` seconds."""
    return min(samples, key=lambda s: abs(s.t - t))


@dataclass
class Window:
    first: Sample
    last: Sample

    @property
    def seconds(self) -> float:
        return self.last.t - self.first.t

    @property
    def booked(self) -> int:
        return self.last.booked - self.first.booked

    @property
    def rate(self) -> float:
        return self.booked / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms(self, name: str) -> float:
        return (self.last.cpu[name] - self.first.cpu[name]) * 1000 / max(self.booked, 1)


def report(args, tally: Tally, idle: Sample, load: str) -> bool:
    end = tally.samples[-1].t
    start_s = at(tally.samples, tally.measured_from)
    first = Window(start_s, at(tally.samples, start_s.t + 60))
    last = Window(at(tally.samples, end - 60), tally.samples[-1])
    ok = True
    print(f"soak: {args.minutes:g} min measured after {start_s.t / 60:.1f} min of warm-up ({start_s.booked} bookings), "
          f"concurrency {args.concurrency}, "
          f"seed {args.seed}, sampled every {args.sample_seconds:g} s ({len(tally.samples)} samples)")
    print(f"bookings accepted {tally.booked}, refused {tally.refused}, failed {tally.failed}; load average {load}")
    print(f"{'party':>7} {'RSS idle MB':>11} {'start MB':>9} {'end MB':>7} {'peak MB':>8} {'end/start':>9}")
    for name in NAMES:
        peak = max(s.rss[name] for s in tally.samples if s.t >= start_s.t)
        ratio = tally.samples[-1].rss[name] / start_s.rss[name]
        broken = abs(ratio - 1) > args.rss_bound
        ok &= not broken
        print(f"{name:>7} {idle.rss[name] / MB:>11.1f} {start_s.rss[name] / MB:>9.1f} "
              f"{tally.samples[-1].rss[name] / MB:>7.1f} {peak / MB:>8.1f} {ratio:>9.3f}{'  BOUND BROKEN' if broken else ''}")
    print(f"{'minute':>7} {'from s':>7} {'to s':>6} {'bookings':>8} {'per s':>6} | CPU ms/booking "
          + " ".join(f"{n:>6}" for n in [*NAMES, "driver"]) + f" {'parties':>7}")
    for label, w in (("first", first), ("last", last)):
        parties = sum(w.cpu_ms(n) for n in NAMES)
        print(f"{label:>7} {w.first.t:>7.0f} {w.last.t:>6.0f} {w.booked:>8} {w.rate:>6.1f} |                "
              + " ".join(f"{w.cpu_ms(n):>6.2f}" for n in [*NAMES, "driver"]) + f" {parties:>7.2f}")
    rate_ratio = last.rate / first.rate if first.rate else 0.0
    cpu_ratio = sum(last.cpu_ms(n) for n in NAMES) / max(sum(first.cpu_ms(n) for n in NAMES), 1e-9)
    broken = abs(rate_ratio - 1) > args.rate_bound
    ok &= not broken
    print(f"last/first minute: bookings/s {rate_ratio:.3f}{'  BOUND BROKEN' if broken else ''}, parties' CPU per "
          f"booking {cpu_ratio:.3f} (" + ", ".join(f"{n} {last.cpu_ms(n) / max(first.cpu_ms(n), 1e-9):.2f}" for n in NAMES)
          + ")")
    minutes = [Window(at(tally.samples, t), at(tally.samples, t + 60)) for t in range(int(start_s.t), int(end) - 59, 60)]
    print("bookings/s by minute: " + " ".join(f"{w.rate:.1f}" for w in minutes)
          + f"; median {statistics.median(w.rate for w in minutes):.1f}")
    print(f"bounds: RSS within {args.rss_bound:.0%}, bookings/s within {args.rate_bound:.0%}: {'held' if ok else 'BROKEN'}")
    return ok


async def main_async(args) -> int:
    ports = free_ports(4)
    urls = StackUrls.local("127.0.0.1", dict(zip(["broker", "spine", "pas", "gp"], ports)))
    quiet = {f"{p}_LOG_LEVEL": "WARNING" for p in ("SPINE", "PAS", "GP", "BROKER")}
    with tempfile.TemporaryDirectory() as tmp, \
            EmbeddedStack(urls, data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs", extra_env=quiet) as stack:
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2)
        async with httpx.AsyncClient(limits=limits, timeout=60, event_hooks={"request": [add_trace_headers]}) as client:
            population = await discover(client, urls)
            idle = sample(pids, time.monotonic(), Tally())
            workload = Workload(urls, population, seed=args.seed, bookings=0, concurrency=args.concurrency,
                                id_salt="soak")
            tally = await drive(workload, client, pids, args)
        files = sorted((f.name, f.stat().st_size) for f in (Path(tmp) / "data").iterdir())
        for name, proc in stack.processes.items():
            if proc.poll() is not None:
                print(f"the {name} exited during the soak with code {proc.returncode}")
                return 1
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    ok = report(args, tally, idle, load)
    print("database files at the end: " + ", ".join(f"{name} {size / MB:.1f} MB" for name, size in files))
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20, help="measured minutes (after the warm-up)")
    parser.add_argument("--warmup-minutes", type=float, default=1,
                        help="at least this long, then until the broker's message log is full")
    parser.add_argument("--max-warmup-minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-seconds", type=float, default=5)
    parser.add_argument("--rss-bound", type=float, default=0.10)
    parser.add_argument("--rate-bound", type=float, default=0.10)
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be at least 2: the first and last minute are compared")
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
