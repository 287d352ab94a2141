"""What the fault engine costs: one decision in isolation, and end-to-end throughput with and without it.

    python bench/fault_engine.py --bookings 600 --rounds 3

Part 1 times `FaultEngine.decide` (no rules; three rules on a matching link; ten rules on other
links) beside a baseline of one `random.random()` call measured in the same run.
Part 2 starts two embedded stacks side by side, one whose broker has the engine taken out of the
message path (`BROKER_FAULT_ENGINE=false`) and one with the engine in and no rules, and drives the
same workload through each in alternating rounds, so both see the same machine noise.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e_throughput import free_ports, sustained  # noqa: E402
from party_common.links.faults.engine import FaultEngine  # noqa: E402
from harness.stack.embedded import EmbeddedStack  # noqa: E402
from harness.stack.endpoints import StackUrls  # noqa: E402
from harness.run.workload import Workload, discover  # noqa: E402
from party_common.fault_rules import FaultRule  # noqa: E402
from party_common.http_client import add_trace_headers  # noqa: E402


def per_call_us(fn, number: int = 20000, repeat: int = 7) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def micro() -> None:
    rng = random.Random(1)
    baseline = per_call_us(rng.random)
    none = FaultEngine(1)
    three = FaultEngine(1)
    for r in ({"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.57},
              {"link": "broker->pas:RT1", "action": "delay", "ms": 5, "every": {"k": 1, "n": 10}},
              {"link": "broker->*", "action": "outage", "window": {"from": 1e9}}):
        three.add(FaultRule.model_validate(r))
    ten = FaultEngine(1)
    for i in range(10):
        ten.add(FaultRule.model_validate({"link": f"broker->gp:X{i}", "action": "drop", "probability": 0.5}))
    print("part 1: one decision (median of 7 x 20,000 calls)")
    print(f"  baseline random.random()            {baseline:7.3f} us")
    for name, engine in (("no rules", none), ("3 rules, matching link", three), ("10 rules, other links", ten)):
        us = per_call_us(lambda engine=engine: engine.decide("broker->pas:RT1", "booking-request"))
        print(f"  decide(), {name:<26}{us:7.3f} us  ({us / baseline:5.1f} x baseline)")


async def e2e(args) -> None:
    stacks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, enabled in (("engine out", "false"), ("engine in, no rules", "true")):
            ports = free_ports(4)
            urls = StackUrls.local("127.0.0.1", dict(zip(["broker", "spine", "pas", "gp"], ports)))
            stack = EmbeddedStack(urls, data_dir=Path(tmp) / name / "data", log_dir=Path(tmp) / name / "logs",
                                  extra_env={"BROKER_FAULT_ENGINE": enabled})
            stack.start()
            stacks[name] = (stack, urls)
        try:
            rates: dict[str, list[float]] = {name: [] for name in stacks}
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64),
                                         event_hooks={"request": [add_trace_headers]}) as client:
                pops = {name: await discover(client, urls) for name, (_, urls) in stacks.items()}
                order = list(stacks)
                for rnd in range(args.rounds + 1):
                    for name in (order if rnd % 2 == 0 else order[::-1]):
                        _, urls = stacks[name]
                        w = Workload(urls, pops[name], seed=rnd + 1, bookings=args.bookings if rnd else 100,
                                     concurrency=args.concurrency)
                        rate, _, failed = await sustained(w, client)
                        if rnd:  # round 0 warms both stacks up
                            rates[name].append(rate)
        finally:
            for stack, _ in stacks.values():
                stack.stop()
    print(f"part 2: end to end, {args.bookings} bookings per round, concurrency {args.concurrency}, "
          f"{args.rounds} rounds alternating")
    for name, values in rates.items():
        print(f"  {name:<22} bookings/s per round {', '.join(f'{v:.1f}' for v in values)}; "
              f"median {statistics.median(values):.1f}")
    out = statistics.median(rates["engine out"])
    inn = statistics.median(rates["engine in, no rules"])
    print(f"  cost of the engine: {100 * (out - inn) / out:+.1f}% of throughput (ratio in/out {inn / out:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    micro()
    if not args.micro_only:
        asyncio.run(e2e(args))


if __name__ == "__main__":
    main()
