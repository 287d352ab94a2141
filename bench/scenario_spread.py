"""The spread of a library scenario's outcome over consecutive seeds: what its `expect:` bounds rest on.

Each seed is a full run through the real path (`testbed run`'s runner, its own embedded stack on free
ports), the scenario unchanged but its seed. Per seed it prints what the scenario's `expect:` block
bounds (end-to-end error rate, each discrepancy kind it bounds, each link rate it bounds, the
reconciler's score), whether the run met it, and the run's real time; then, per quantity, the
minimum, median and maximum over the seeds next to the bound in the file. Bounds are to be set from
that spread, widened a little, never from one seed (issue 14).

    python bench/scenario_spread.py choose-and-book-2006 --seeds 1-20
    python bench/scenario_spread.py --all --seeds 1-20 --json spread.json

Exit 1 when any run missed its expectations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.replay.run import free_local_urls, free_mllp_port  # noqa: E402
from harness.run.error_rates import matching_rates  # noqa: E402
from harness.run.runner import RunIncomplete, RunOptions, run  # noqa: E402
from harness.stack.embedded import StackError  # noqa: E402
from harness.scenario.library import library  # noqa: E402
from harness.scenario.model import Scenario  # noqa: E402


def seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def bounded_quantities(scenario: Scenario, summary: dict) -> dict[str, float]:
    """The values the scenario's expect block bounds, read from a run's summary."""
    expect, rec = scenario.expect, summary["reconciliation"]
    out: dict[str, float] = {"error_rate": rec["error_rate"]}
    if expect is not None and expect.discrepancies is not None:
        for kind, bound in expect.discrepancies:
            if bound is not None:
                counts = rec["counts"]
                out[kind] = sum(counts.values()) if kind == "total" else counts.get(kind, 0)
    for spec in (expect.links or {}) if expect is not None else {}:
        for name, entry in matching_rates(summary["error_rates"]["links"], spec):
            key = f"link {name}" if name == spec else f"link {spec} ({name})"
            out[key] = entry["rate"]
    for name in ("precision", "recall"):
        out[name] = rec["score"][name]
    return out


def run_seed(scenario: Scenario, seed: int, runs_dir: Path) -> dict:
    started = time.perf_counter()
    summary, folder = run(RunOptions(scenario=scenario.model_copy(update={"seed": seed}),
                                     urls=free_local_urls(), runs_dir=runs_dir,
                                     mllp_port=free_mllp_port(count=max(1, len(scenario.legacy_trusts)))))
    seconds = time.perf_counter() - started
    row = {"seed": seed, "met": summary["expectations"]["met"], "missed": summary["expectations"]["missed"],
           "seconds": round(seconds, 1), "values": bounded_quantities(scenario, summary),
           "clock": summary.get("clock"), "after_drain": summary.get("outbox_after_drain")}
    shutil.rmtree(folder, ignore_errors=True)
    return row


def bound_text(scenario: Scenario, key: str) -> str:
    expect = scenario.expect
    if expect is None:
        return ""
    if key == "error_rate":
        b = expect.error_rate
    elif key in ("precision", "recall"):
        b = getattr(expect.score, key, None) if expect.score else None
    elif key.startswith("link "):
        spec = key[5:].split(" (")[0]
        b = (expect.links or {}).get(spec)
    else:
        b = getattr(expect.discrepancies, key, None) if expect.discrepancies else None
    if b is None:
        return ""
    return f"[{'' if b.min is None else b.min}, {'' if b.max is None else b.max}]"


def report(name: str, scenario: Scenario, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r["values"]))
    print(f"\n{name}: {len(rows)} seeds, {sum(r['met'] for r in rows)} met their expectations; "
          f"real time per run median {statistics.median(r['seconds'] for r in rows):.1f} s")
    for r in rows:
        if not r["met"]:
            print(f"  seed {r['seed']} MISSED: {'; '.join(r['missed'])}")
    width = max(len(k) for k in keys)
    print(f"  {'quantity':<{width}}  {'min':>8} {'median':>8} {'max':>8}  bound")
    for k in keys:
        vals = [r["values"][k] for r in rows if k in r["values"]]
        print(f"  {k:<{width}}  {min(vals):>8.4g} {statistics.median(vals):>8.4g} {max(vals):>8.4g}  "
              f"{bound_text(scenario, k)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="library scenario names")
    ap.add_argument("--all", action="store_true", help="every scenario in the library")
    ap.add_argument("--seeds", default="1-20", help="a range, e.g. 1-20")
    ap.add_argument("--json", type=Path, help="write every run's row here too")
    args = ap.parse_args()
    entries = {e.name: e.scenario for e in library()}
    names = list(entries) if args.all else args.names
    unknown = [n for n in names if n not in entries]
    if not names or unknown:
        ap.error(f"name library scenarios or give --all (unknown: {', '.join(unknown) or 'none given'})")
    seeds = seed_range(args.seeds)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        for name in names:
            rows = results[name] = []
            for seed in seeds:
                try:
                    row = run_seed(entries[name], seed, Path(tmp))
                except (StackError, RunIncomplete) as exc:
                    # A stack that could not start or a party gone (a port taken by another run on a
                    # shared machine) is no outcome of the scenario: said, and the seed run again once.
                    print(f"{name} seed {seed}: could not run ({exc}); once more", flush=True)
                    row = run_seed(entries[name], seed, Path(tmp))
                rows.append(row)
                print(f"{name} seed {seed}: {'met' if row['met'] else 'MISSED'} in {row['seconds']} s "
                      + " ".join(f"{k}={v:.4g}" for k, v in row["values"].items())
                      + f" after drain: {row['after_drain']}", flush=True)
            report(name, entries[name], rows)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["met"] for rows in results.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
