"""What replay costs: the script and comparison on a 10,000-message journal, and a run against its replay.

    python bench/replay.py --bookings 300 --rounds 3

Part 1 (no stack): building the decision script and the allocation order from a synthetic journal of
10,000 entries, one replay-mode `decide()` against a rules-mode one, and comparing two such journals,
each beside a baseline measured in the same run (parsing the journal's JSON lines).
Part 2 records a faulty run on an embedded stack, then replays it `--rounds` times: the recording's
duration against each replay's (each includes starting a fresh stack and reconciling).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from party_common.links.faults.engine import FaultEngine  # noqa: E402
from harness.replay.run import free_local_urls, replay_run  # noqa: E402
from harness.replay.compare import journal_differences  # noqa: E402
from harness.run.runner import RunOptions, run  # noqa: E402
from harness.scenario.model import parse_scenario  # noqa: E402
from party_common.fault_rules import FaultRule  # noqa: E402
from party_common.journal_entries import decisions_from_journal, message_key, order_from_journal  # noqa: E402

RULES = [{"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.5},
         {"link": "broker->spine", "action": "lose-ack", "probability": 0.2}]


def synthetic_journal(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    links = [("broker->spine", "allocate-ubrn"), ("broker->pas:RT1", "booking-request"),
             ("broker->gp:Y90001", "booking-request"), ("broker->spine", "booking-request"),
             ("gp:Y90001->broker", "booking-request")]
    out = []
    for seq in range(1, n + 1):
        link, event = links[seq % len(links)]
        booking = seq // len(links)
        dropped = link.startswith("broker->pas") and rng.random() < 0.5
        out.append({"seq": seq, "at": "2026-11-27T10:00:00", "elapsed_s": seq / 100, "link": link, "event": event,
                    "message_id": None if event == "allocate-ubrn" else f"m{seq}", "bundle_id": f"b{seq}",
                    "origin_id": f"req{booking}", "ubrn": f"{booking:012d}", "attempt": 1, "purpose": "delivery",
                    "decision": "drop" if dropped else "pass", "rule_id": "r1" if dropped else None,
                    "outcome": "timeout" if dropped else "delivered", "status": None if dropped else 200,
                    "delivered": not dropped, "latency_ms": rng.random() * 20})
    return out


def ms(fn, repeat: int = 5) -> float:
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeat)) * 1000


def micro() -> None:
    journal = synthetic_journal(10_000)
    lines = [orjson.dumps(e) for e in journal]
    baseline = ms(lambda: [orjson.loads(line) for line in lines])
    print("part 1: a 10,000-entry journal (median of 5)")
    print(f"  baseline: parse its JSON lines        {baseline:8.2f} ms")
    for name, fn in (("build the decision script", lambda: decisions_from_journal(journal)),
                     ("build the allocation order", lambda: order_from_journal(journal)),
                     ("compare it with a copy", lambda: journal_differences(journal, [dict(e) for e in journal]))):
        t = ms(fn)
        print(f"  {name:<36}{t:8.2f} ms  ({t / baseline:5.2f} x baseline)")
    rules = FaultEngine(1)
    rules.configure(1, [FaultRule.model_validate(r) for r in RULES])
    keys = [message_key(e["link"], e["event"], e["message_id"], e["origin_id"], 1, "delivery") for e in journal]

    def replay_all():
        engine = FaultEngine(1)
        engine.configure(1, [FaultRule.model_validate(r) for r in RULES])
        engine.load_script(decisions_from_journal(journal))
        for e, key in zip(journal, keys):
            engine.decide(e["link"], e["event"], key)

    def rules_all():
        rules.reset(1, keep_rules=True)
        for e in journal:
            rules.decide(e["link"], e["event"])

    t_rules, t_replay = ms(rules_all), ms(replay_all)
    print(f"  10,000 decide() by rules             {t_rules:8.2f} ms")
    print(f"  10,000 decide() by script (+ load)   {t_replay:8.2f} ms  ({t_replay / t_rules:5.2f} x rules)")


def e2e(args) -> None:
    scenario = parse_scenario({"name": "bench-replay", "seed": 3, "delivery": "fire-and-forget",
                               "workload": {"bookings": args.bookings, "concurrency": args.concurrency},
                               "faults": RULES}, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary, folder = run(RunOptions(scenario=scenario, urls=free_local_urls(), runs_dir=Path(tmp)))
        recorded = time.perf_counter() - started
        print(f"part 2: {args.bookings} bookings, {summary['journal_entries']} journal entries")
        print(f"  recording (stack start, run, reconcile) {recorded:7.2f} s")
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            outcome = replay_run(folder)
            times.append(time.perf_counter() - started)
            print(f"  replay (same, plus both comparisons)    {times[-1]:7.2f} s  identical={outcome.identical}")
        print(f"  median replay / recording               {statistics.median(times) / recorded:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    micro()
    if not args.micro_only:
        e2e(args)


if __name__ == "__main__":
    main()
