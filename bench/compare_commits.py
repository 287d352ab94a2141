"""End-to-end throughput of two versions of the testbed, measured alternately in the same run.

Runs the rounds of `bench/e2e_throughput.py` (its own `baseline` and `sustained` functions, imported
from each tree) on a snapshot of a base commit and on the current checkout (or a second commit), one
after the other, N times each, in ABBA order (base first in odd pairs, head first in even ones) so
that the machine's noise and any drift over the run hit both alike. Each run starts its own embedded
stack from its own tree (the working directory and `PYTHONPATH` are the tree; the script checks that
the parties import from there) and measures, per round: the `/health` baseline, bookings/s and
latency, and the CPU time (user + system, from /proc, so Linux only) each party's process spent on
the round's bookings. Other work on a shared machine moves bookings/s a lot; it moves CPU per booking
much less. Prints every figure as it comes, then the medians and the ratios.

    python bench/compare_commits.py --base 434a663 --bookings 400 --pairs 5

The base snapshot is `git archive` of the commit, unpacked under the system's temporary directory and
reused by later runs; nothing in the repository (index, branches, worktrees) is touched.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("booking_broker", "party_common", "trust_pas", "gp_system", "spine_mock", "harness")


@dataclass
class Side:
    label: str
    tree: Path
    describe: str
    rounds: list[dict] = field(default_factory=list)


def git(*args: str, cwd: Path = REPO) -> str:
    # --no-optional-locks: `git status` must not refresh the index while someone else commits.
    return subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def snapshot(ref: str) -> tuple[Path, str]:
    """An unpacked `git archive` of `ref` (made once, then reused); returns (tree, full sha)."""
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tree = Path(tempfile.gettempdir()) / f"testbed-bench-{sha[:12]}"
    if not (tree / "bench" / "e2e_throughput.py").is_file():
        partial = tree.with_name(tree.name + f".partial-{os.getpid()}")
        partial.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=REPO, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(partial, filter="data")
            else:  # Python before 3.11.4: our own archive, from our own repository
                tar.extractall(partial)
        partial.rename(tree)
    return tree, sha


def describe_checkout(tree: Path) -> str:
    sha = git("rev-parse", "--short=12", "HEAD", cwd=tree)
    dirty = [line for line in git("status", "--porcelain", "--untracked-files=no", cwd=tree).splitlines() if line]
    return f"working tree at {sha}" + (f" with {len(dirty)} uncommitted file(s)" if dirty else " (clean)")


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def check_imports(tree: Path) -> None:
    """The parties a run starts must be the tree's own, not the editable install's."""
    code = "import importlib,sys\nfor p in sys.argv[1:]: print(importlib.import_module(p).__file__)"
    out = subprocess.run([sys.executable, "-c", code, *PACKAGES], cwd=tree, env=env_for(tree), check=True,
                         capture_output=True, text=True).stdout.split()
    stray = [f for f in out if not Path(f).resolve().is_relative_to(tree.resolve())]
    if stray:
        sys.exit(f"compare_commits: {tree} imports parties from elsewhere: {stray}")


# Runs in the measured tree (working directory and PYTHONPATH are the tree): e2e_throughput's own
# baseline and sustained rounds, with the CPU time each party's process spends on the round's bookings.
WORKER = r"""
import asyncio, json, os, sys, tempfile, time
from pathlib import Path
import httpx
sys.path.insert(0, os.getcwd())
from bench.e2e_throughput import baseline, free_ports, sustained
from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import StackUrls
from harness.run.summary import percentile
from harness.run.workload import Workload, discover
try:   # a tree whose broker requires trace headers has the hook its own bench uses
    from party_common.http_client import add_trace_headers
    HOOKS = {"request": [add_trace_headers]}
except ImportError:
    HOOKS = {}

args = json.loads(sys.argv[1])
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime + stime


async def main():
    urls = StackUrls.local("127.0.0.1", dict(zip(["broker", "spine", "pas", "gp"], free_ports(4))))
    quiet = {f"{p}_LOG_LEVEL": "WARNING" for p in ("SPINE", "PAS", "GP", "BROKER")}
    with tempfile.TemporaryDirectory() as tmp, \
            EmbeddedStack(urls, data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs", extra_env=quiet) as stack:
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        n = args["concurrency"] * 2
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                                     timeout=60, event_hooks=HOOKS) as client:
            population = await discover(client, urls)
            offset = 0

            def workload(count):
                nonlocal offset
                # Fresh bookings each round, as e2e_throughput makes them (the plan shifted by the bookings
                # already made), and fresh request ids too: they derive from the index within the round, so
                # without a salt of its own each round would reuse the last one's and every booking would
                # first be refused (409) and retried.
                w = Workload(urls, population, seed=args["seed"], bookings=count, concurrency=args["concurrency"],
                             id_salt=f"from{offset}")
                w_offset, plan = offset, w.plan
                offset += count
                w.plan = lambda i: plan(i + w_offset)
                return w

            await sustained(workload(args["warmup"]), client)
            for _ in range(args["rounds"]):
                b_rate, _ = await baseline(urls, args["bookings"], args["concurrency"])
                before, me = {k: cpu_s(p) for k, p in pids.items()}, time.process_time()
                s_rate, s_lat, s_fail = await sustained(workload(args["bookings"]), client)
                cpu = {k: (cpu_s(p) - before[k]) * 1000 / args["bookings"] for k, p in pids.items()}
                cpu["driver"] = (time.process_time() - me) * 1000 / args["bookings"]
                print(json.dumps({"baseline": b_rate, "bookings": s_rate, "ratio": s_rate / b_rate,
                                  "p50": percentile(s_lat, 50), "p99": percentile(s_lat, 99), "failed": s_fail,
                                  "cpu_ms": cpu}), flush=True)


asyncio.run(main())
"""


# `--mode inprocess`: the four parties in one event loop (tests/stack_inprocess.py, no sockets, no
# uvicorn), so one process's CPU time is the whole stack's: the testbed's own work per booking.
WORKER_INPROCESS = r"""
import asyncio, json, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from harness.run.workload import Workload, discover
from tests.stack_inprocess import inprocess_stack

args = json.loads(sys.argv[1])


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        async with inprocess_stack(Path(tmp), population_size=2000) as (urls, client, _apps):
            population = await discover(client, urls)
            offset = 0

            def workload(count):
                nonlocal offset
                w = Workload(urls, population, seed=args["seed"], bookings=count, concurrency=args["concurrency"],
                             id_salt=f"from{offset}")   # fresh request ids each round, as above
                w_offset, plan = offset, w.plan
                offset += count
                w.plan = lambda i: plan(i + w_offset)
                return w

            await workload(args["warmup"]).run(client)
            for _ in range(args["rounds"]):
                wall, cpu = time.perf_counter(), time.process_time()
                results = await workload(args["bookings"]).run(client)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(json.dumps({"bookings": args["bookings"] / wall, "cpu_ms": cpu * 1000 / args["bookings"],
                                  "failed": sum(r.outcome != "accepted" for r in results)}), flush=True)


asyncio.run(main())
"""


def run_once(side: Side, args) -> list[dict]:
    params = {k: getattr(args, k) for k in ("bookings", "concurrency", "rounds", "warmup", "seed")}
    worker = WORKER_INPROCESS if args.mode == "inprocess" else WORKER
    done = subprocess.run([sys.executable, "-c", worker, json.dumps(params)], cwd=side.tree, check=False,
                          env=env_for(side.tree), capture_output=True, text=True, timeout=args.run_timeout)
    if done.returncode != 0:
        sys.exit(f"compare_commits: the {side.label} run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(rows) != args.rounds:
        sys.exit(f"compare_commits: could not read the {side.label} run's figures:\n{done.stdout}")
    return rows


PARTY_ORDER = ("spine", "pas", "gp", "broker", "driver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="434a663", help="the commit measured as the baseline")
    parser.add_argument("--head", default=None,
                        help="a commit to measure against it (default: this checkout, uncommitted changes included)")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--bookings", type=int, default=400, help="bookings per round")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per run (each run starts a fresh stack)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-timeout", type=float, default=900)
    parser.add_argument("--target", type=float, default=0.85, help="lowest acceptable head/base ratio")
    parser.add_argument("--mode", choices=("sockets", "inprocess"), default="sockets",
                        help="sockets: the embedded stack, as e2e_throughput runs it; inprocess: the four parties "
                             "in one process, its CPU time per booking (min and median over the rounds)")
    args = parser.parse_args()

    base_tree, base_sha = snapshot(args.base)
    base = Side("base", base_tree, f"commit {base_sha[:12]} ({args.base})")
    if args.head:
        head_tree, head_sha = snapshot(args.head)
        head = Side("head", head_tree, f"commit {head_sha[:12]} ({args.head})")
    else:
        head = Side("head", REPO, describe_checkout(REPO))
    for side in (base, head):
        check_imports(side.tree)
    print(f"base: {base.describe}, from {base.tree}")
    print(f"head: {head.describe}, from {head.tree}")
    stack = "in-process stack" if args.mode == "inprocess" else "embedded stack"
    print(f"{args.pairs} runs each, alternating ABBA; per run: fresh {stack}, {args.warmup} warm-up bookings, "
          f"{args.rounds} round(s) of {args.bookings} bookings at concurrency {args.concurrency}; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    if args.mode == "inprocess":
        return inprocess_main(args, base, head)
    print("CPU ms per booking: each party's process (user + system) over the round's bookings alone")
    print(f"{'run':>4} {'side':>4} {'baseline chains/s':>18} {'bookings/s':>11} {'ratio':>6} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'failed':>6} | CPU ms/booking " + " ".join(f"{p:>6}" for p in PARTY_ORDER) + "  parties",
          flush=True)
    n = 0
    for pair in range(args.pairs):
        for side in ((base, head) if pair % 2 == 0 else (head, base)):
            n += 1
            for r in run_once(side, args):
                r["cpu_parties"] = sum(v for k, v in r["cpu_ms"].items() if k != "driver")
                side.rounds.append(r)
                cpu = " ".join(f"{r['cpu_ms'][p]:>6.2f}" for p in PARTY_ORDER)
                print(f"{n:>4} {side.label:>4} {r['baseline']:>18.1f} {r['bookings']:>11.1f} {r['ratio']:>6.2f} "
                      f"{r['p50'] or 0:>7.1f} {r['p99'] or 0:>7.1f} {r['failed']:>6} |                {cpu} "
                      f"{r['cpu_parties']:>8.2f}", flush=True)

    def med(side: Side, key: str, party: str | None = None) -> float:
        return statistics.median(r["cpu_ms"][party] if party else r[key] for r in side.rounds)

    for side in (base, head):
        rates = ", ".join(f"{r['bookings']:.1f}" for r in side.rounds)
        parties = ", ".join(f"{p} {med(side, '', p):.2f}" for p in PARTY_ORDER)
        print(f"{side.label}: bookings/s {rates}; median {med(side, 'bookings'):.1f} (baseline median "
              f"{med(side, 'baseline'):.1f} chains/s, bookings/baseline {med(side, 'ratio'):.2f}, p50 "
              f"{med(side, 'p50'):.1f} ms, p99 {med(side, 'p99'):.1f} ms, failed "
              f"{sum(r['failed'] for r in side.rounds)}); CPU ms/booking median: {parties}; parties "
              f"{med(side, 'cpu_parties'):.2f}")
    ratio = med(head, "bookings") / med(base, "bookings")
    normalised = med(head, "ratio") / med(base, "ratio")
    cpu_ratio = med(base, "cpu_parties") / med(head, "cpu_parties")
    verdict = "met" if ratio >= args.target else "missed"
    print(f"head/base bookings/s, medians: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%); each against its own "
          f"/health baseline: {normalised:.3f} ({(normalised - 1) * 100:+.1f}%)")
    print(f"parties' CPU per booking, head/base medians: {1 / cpu_ratio:.3f} "
          f"({med(head, 'cpu_parties') - med(base, 'cpu_parties'):+.2f} ms): bookings/s that CPU allows, "
          f"head/base {cpu_ratio:.3f}")
    # Paired: each ABBA pair's two runs sat side by side in time, so their ratio cancels slow drift.
    pairs = [(h["bookings"] / b["bookings"], b["cpu_parties"] / h["cpu_parties"])
             for b, h in zip(base.rounds, head.rounds)]
    print("per pair, head/base bookings/s: " + ", ".join(f"{p[0]:.2f}" for p in pairs) +
          f"; median {statistics.median(p[0] for p in pairs):.3f}. CPU-allowed: " +
          ", ".join(f"{p[1]:.2f}" for p in pairs) + f"; median {statistics.median(p[1] for p in pairs):.3f}")
    best = max(r["bookings"] for r in head.rounds) / max(r["bookings"] for r in base.rounds)
    least = min(r["cpu_parties"] for r in base.rounds) / min(r["cpu_parties"] for r in head.rounds)
    print(f"best runs (least disturbed), head/base: bookings/s {best:.3f}, CPU-allowed {least:.3f}")
    print(f"target head/base >= {args.target:.2f}: {verdict}; load average at end {os.getloadavg()[0]:.1f}")


def inprocess_main(args, base: Side, head: Side) -> None:
    print("in process: the four parties and the driver in one event loop; CPU ms per booking of that process")
    print(f"{'run':>4} {'side':>4} {'bookings/s per round':>40} | {'CPU ms/booking per round':>40}", flush=True)
    n = 0
    for pair in range(args.pairs):
        for side in ((base, head) if pair % 2 == 0 else (head, base)):
            n += 1
            rows = run_once(side, args)
            side.rounds += rows
            if any(r["failed"] for r in rows):
                print(f"     {side.label}: {sum(r['failed'] for r in rows)} booking(s) not accepted")
            rates = " ".join(f"{r['bookings']:6.1f}" for r in rows)
            cpus = " ".join(f"{r['cpu_ms']:6.2f}" for r in rows)
            print(f"{n:>4} {side.label:>4} {rates:>40} | {cpus:>40}", flush=True)
    for side in (base, head):
        cpu = [r["cpu_ms"] for r in side.rounds]
        rate = [r["bookings"] for r in side.rounds]
        print(f"{side.label}: CPU ms/booking min {min(cpu):.2f}, median {statistics.median(cpu):.2f}; bookings/s max "
              f"{max(rate):.1f}, median {statistics.median(rate):.1f} ({len(cpu)} rounds)")
    b_cpu, h_cpu = [r["cpu_ms"] for r in base.rounds], [r["cpu_ms"] for r in head.rounds]
    print(f"head/base CPU per booking: min {min(h_cpu) / min(b_cpu):.3f} ({min(h_cpu) - min(b_cpu):+.2f} ms), "
          f"median {statistics.median(h_cpu) / statistics.median(b_cpu):.3f}; bookings/s that allows, head/base: "
          f"{min(b_cpu) / min(h_cpu):.3f} by the minima, {statistics.median(b_cpu) / statistics.median(h_cpu):.3f} "
          f"by the medians (target >= {args.target:.2f})")


if __name__ == "__main__":
    main()
