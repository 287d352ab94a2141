"""Replay on the virtual clock against the simulated time the recording spans.

    python bench/replay_virtual.py --bookings 1760 --per-hour 600 --rounds 3

Records a faulty scenario on the virtual clock (Poisson arrivals, a dropped share of trust messages,
lost spine answers, 10-minute delays on one trust and a spine outage window), then replays its
run folder `--rounds` times on fresh embedded stacks. The figure the target is about is the ratio of
the simulated time the recording spans to the real time one replay takes (target: at least 20).
Printed beside it, measured in the same run: the recording's own real time, and the replay's real
time against it. Every replay must come out identical, or the figure does not count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.replay.run import free_local_urls, replay_run  # noqa: E402
from harness.run.runner import RunOptions, run  # noqa: E402
from harness.scenario.model import parse_scenario  # noqa: E402

FAULTS = [
    {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.3},
    {"link": "broker->spine", "event": "booking-request", "action": "lose-ack", "probability": 0.2},
    {"link": "broker->pas:RT4", "action": "delay", "median_ms": 600_000, "sigma": 0.3},
    {"link": "broker->spine", "action": "outage", "window": {"from": 3600, "to": 4500}},
]


def scenario(bookings: int, per_hour: float, concurrency: int):
    return parse_scenario({
        "name": "bench-replay-virtual", "seed": 21, "delivery": "fire-and-forget",
        "clock": {"mode": "virtual"},
        "workload": {"bookings": bookings, "concurrency": concurrency,
                     "arrival": {"process": "poisson", "per_hour": per_hour}},
        "faults": FAULTS,
    }, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1760, help="about 5.7 journal entries each: 1,760 make a journal of over 10,000")
    parser.add_argument("--per-hour", type=float, default=600.0, help="Poisson arrival rate, simulated")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spec = scenario(args.bookings, args.per_hour, args.concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary, folder = run(RunOptions(scenario=spec, urls=free_local_urls(), runs_dir=Path(tmp)))
        recorded_real = time.perf_counter() - started
        simulated = summary["clock"]["simulated_s"]
        print(f"recording: {args.bookings} bookings at {args.per_hour:g}/h (Poisson), "
              f"{summary['journal_entries']} journal entries")
        print(f"  simulated time spanned                {simulated:10.1f} s ({simulated / 3600:.2f} h)")
        print(f"  real time (stack start, run, reconcile) {recorded_real:8.1f} s "
              f"({simulated / recorded_real:.1f} x faster than simulated)")
        times, identical = [], []
        for i in range(args.rounds):
            started = time.perf_counter()
            outcome = replay_run(folder)
            times.append(time.perf_counter() - started)
            identical.append(outcome.identical)
            print(f"  replay {i + 1}: {times[-1]:8.1f} s real, identical={outcome.identical}"
                  + ("" if outcome.identical else f" ({len(outcome.differences)} differences, first:"
                                                 f" {outcome.differences[0]})"))
        median = statistics.median(times)
        print(f"median replay                           {median:8.1f} s real")
        print(f"simulated time / median replay          {simulated / median:8.1f} x   (target >= 20)")
        print(f"median replay / recording, both real    {median / recorded_real:8.2f}")
        if not all(identical):
            print("NOT ALL REPLAYS IDENTICAL: the figure above does not count")
            sys.exit(1)


if __name__ == "__main__":
    main()
