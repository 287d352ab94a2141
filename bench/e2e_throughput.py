"""End-to-end booking throughput and latency through the embedded stack over real sockets.

Prints bookings/s and p50/p99 booking latency beside a baseline measured in the same run: the same
number of HTTP round trips per booking, sent to a no-op endpoint (`GET /health`) of the same four
servers in the same order, at the same concurrency. The ratio says how much of a booking's cost is
the testbed's own work rather than HTTP and the servers' fixed overhead.

Each round also gives the CPU time (user + system, from /proc) each party's process spent per
booking, and the parties' CPU per baseline chain. On a shared machine CPU time moves much less than
bookings/s, so the ratio of the last round's CPU per booking to the first's, beside the same ratio
for the baseline (which holds no state), says whether a booking costs more as the parties' state
grows (issue 13 item 11).

    python bench/e2e_throughput.py --bookings 1500 --concurrency 16 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proc_stats import cpu_seconds  # noqa: E402
from harness.stack.embedded import PARTIES, EmbeddedStack  # noqa: E402
from harness.stack.endpoints import StackUrls  # noqa: E402
from harness.run.summary import percentile  # noqa: E402
from harness.run.workload import Workload, discover  # noqa: E402
from party_common.http_client import add_trace_headers  # noqa: E402

# The HTTP round trips one booking makes, in order (caller -> server):
# harness->gp referral, gp->spine patient check, harness->gp $book, gp->broker slot search,
# broker->pas slot search, gp->broker booking-request, broker->spine UBRN, broker->pas message,
# broker->gp confirmation, broker->spine index report.
HOPS = ["gp", "spine", "gp", "broker", "pas", "broker", "spine", "pas", "gp", "spine"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def baseline(urls: StackUrls, chains: int, concurrency: int) -> tuple[float, list[float]]:
    """Round-trip chains to /health; returns (chains/s, per-chain latencies in ms)."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    latencies: list[float] = []
    todo = iter(range(chains))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker():
            for _ in todo:
                t = time.perf_counter()
                for hop in HOPS:
                    (await client.get(f"{getattr(urls, hop)}/health")).raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return chains / (time.perf_counter() - started), latencies


async def sustained(workload: Workload, client: httpx.AsyncClient) -> tuple[float, list[float], int]:
    started = time.perf_counter()
    results = await workload.run(client)
    elapsed = time.perf_counter() - started
    ok = [r for r in results if r.outcome == "accepted"]
    return len(results) / elapsed, [r.latency_ms for r in ok], len(results) - len(ok)


async def paced(workload: Workload, client: httpx.AsyncClient, rate: float, count: int, offset: int):
    """Open-loop arrivals at `rate` per second: latency as a practice would see it at that load."""
    started = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(workload.book_one(client, offset + i)))
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return count / elapsed, [r.latency_ms for r in results if r.outcome == "accepted"], \
        sum(r.outcome != "accepted" for r in results)


async def main_async(args) -> None:
    ports = free_ports(4)
    urls = StackUrls.local("127.0.0.1", dict(zip(["broker", "spine", "pas", "gp"], ports)))
    with tempfile.TemporaryDirectory() as tmp, \
            EmbeddedStack(urls, data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs",
                          extra_env={f"{p}_LOG_LEVEL": "WARNING" for p in ("SPINE", "PAS", "GP", "BROKER")}) as stack:
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2)
        async with httpx.AsyncClient(limits=limits, timeout=60, event_hooks={"request": [add_trace_headers]}) as client:
            population = await discover(client, urls)
            offset = 0

            def workload(n: int) -> Workload:
                nonlocal offset
                # Each round's request ids are its own: a reused id with other content is refused (409).
                w = Workload(urls, population, seed=args.seed, bookings=n, concurrency=args.concurrency,
                             id_salt=f"round-at-{offset}")
                w_offset = offset
                offset += n
                base_plan = w.plan
                w.plan = lambda i: base_plan(i + w_offset)  # fresh bookings each round, same seed
                return w

            await sustained(workload(args.warmup), client)
            rows = []
            for _ in range(args.repeats):
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                b_rate, b_lat = await baseline(urls, args.bookings, args.concurrency)
                b_cpu = sum(cpu_seconds(pid) - before[name] for name, pid in pids.items()) * 1000 / args.bookings
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                s_rate, s_lat, s_fail = await sustained(workload(args.bookings), client)
                cpu_ms = {name: (cpu_seconds(pid) - before[name]) * 1000 / args.bookings for name, pid in pids.items()}
                rows.append((b_rate, b_lat, s_rate, s_lat, s_fail, cpu_ms, b_cpu))
            target_rate = args.paced_rate or 0.5 * statistics.median(r[2] for r in rows)
            p_rate, p_lat, p_fail = await paced(workload(0), client, target_rate, args.paced_count, offset)

    b_rates = [r[0] for r in rows]
    s_rates = [r[2] for r in rows]
    print("end-to-end bookings through the embedded stack (2 cores shared by 4 servers and the driver)")
    print(f"bookings per round {args.bookings}, concurrency {args.concurrency}, rounds {args.repeats}, "
          f"HTTP round trips per booking {len(HOPS)}")
    names = [p.name for p in PARTIES]
    print(f"{'round':>5} {'baseline chains/s':>18} {'bookings/s':>11} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'failed':>6} | CPU ms/booking " + " ".join(f"{n:>6}" for n in names) + f" {'all':>6} | baseline CPU ms/chain")
    for i, (b_rate, _b_lat, s_rate, s_lat, s_fail, cpu_ms, b_cpu) in enumerate(rows, 1):
        print(f"{i:>5} {b_rate:>18.1f} {s_rate:>11.1f} {s_rate / b_rate:>6.2f} {percentile(s_lat, 50):>7.1f} "
              f"{percentile(s_lat, 99):>7.1f} {s_fail:>6} |                " + " ".join(f"{cpu_ms[n]:>6.2f}" for n in names)
              + f" {sum(cpu_ms.values()):>6.2f} | {b_cpu:>21.2f}")
    print(f"median: baseline {statistics.median(b_rates):.1f} chains/s (p50 "
          f"{statistics.median(percentile(r[1], 50) for r in rows):.1f} ms), bookings "
          f"{statistics.median(s_rates):.1f}/s, ratio {statistics.median(s / b for s, b in zip(s_rates, b_rates)):.2f}")
    first, last = rows[0][5], rows[-1][5]
    print("CPU per booking, last round / first: " + ", ".join(f"{n} {last[n] / first[n]:.2f}" for n in names)
          + f"; all parties {sum(last.values()) / sum(first.values()):.2f} (baseline's CPU per chain "
          f"{rows[-1][6] / rows[0][6]:.2f})")
    print(f"paced at {target_rate:.1f}/s for {args.paced_count} bookings: achieved {p_rate:.1f}/s, "
          f"p50 {percentile(p_lat, 50):.1f} ms, p99 {percentile(p_lat, 99):.1f} ms, failed {p_fail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paced-rate", type=float, default=None,
                        help="bookings/s for the latency run (default: half the measured median)")
    parser.add_argument("--paced-count", type=int, default=1000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
