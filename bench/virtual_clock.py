"""Simulated hours per real second: a scenario on the virtual clock through the embedded stack.

Runs `testbed run`'s own path (runner.run: embedded stack over loopback sockets) on a scenario of
poisson arrivals spanning hours, with an outage window, and prints real and simulated durations and
their ratio. Baseline, in the same run: the same bookings as a closed workload on the system clock
(no arrival gaps, so only the real work), which says what the virtual clock's pacing adds to it.

    python bench/virtual_clock.py --bookings 400 --per-hour 100 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e_throughput import free_ports  # noqa: E402
from harness.stack.endpoints import StackUrls  # noqa: E402
from harness.run.runner import RunOptions, run  # noqa: E402
from harness.scenario.model import parse_scenario  # noqa: E402


def one_run(data: dict, root: Path) -> dict:
    ports = free_ports(4)
    urls = StackUrls.local(ports=dict(zip(("broker", "spine", "pas", "gp"), ports)))
    summary, _folder = run(RunOptions(scenario=parse_scenario(data), urls=urls, runs_dir=root))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bookings", type=int, default=400)
    ap.add_argument("--per-hour", type=float, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    hours = args.bookings / args.per_hour
    outage = {"link": "broker->spine", "action": "outage", "window": {"from": 3600, "to": 5400}}
    virtual = {"seed": 4, "clock": {"mode": "virtual"}, "faults": [outage],
               "workload": {"bookings": args.bookings, "concurrency": args.concurrency,
                            "arrival": {"process": "poisson", "per_hour": args.per_hour}}}
    closed = {"seed": 4, "workload": {"bookings": args.bookings, "concurrency": args.concurrency}}
    v_real, v_sim, c_real = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            s = one_run(virtual, Path(tmp) / f"v{i}")
            v_real.append(s["clock"]["real_s"])
            v_sim.append(s["clock"]["simulated_s"])
            c_real.append(one_run(closed, Path(tmp) / f"c{i}")["clock"]["real_s"])
            print(f"repeat {i + 1}: virtual {v_real[-1]:.2f} s real for {v_sim[-1]:.0f} s simulated; "
                  f"closed on the system clock {c_real[-1]:.2f} s", flush=True)
    real, sim, base = statistics.median(v_real), statistics.median(v_sim), statistics.median(c_real)
    print(f"{args.bookings} bookings, poisson {args.per_hour:g}/hour (about {hours:.1f} simulated hours), "
          f"outage 3600-5400 s on broker->spine; medians of {args.repeats}:")
    print(f"  virtual clock:         {real:8.2f} s real, {sim:9.0f} s simulated, {sim / real:8.0f}x faster than real time")
    print(f"  baseline (closed, system clock): {base:8.2f} s real")
    print(f"  pacing overhead: virtual real time / baseline = {real / base:.2f}")


if __name__ == "__main__":
    main()
