"""`/health` latency while large message Bundles arrive, with large bodies parsed on worker threads
(the default, `<P>_PARSE_THREAD_BYTES` = 64 KiB) and, as the baseline in the same run, every body
parsed on the event loop (`<P>_PARSE_THREAD_BYTES` set to the body limit).

One party runs under uvicorn on loopback. `--senders` clients post large message Bundles (the
published BaRS booking message, its resources repeated up to `--size` bytes) back to back, while one
client asks `/health` again as soon as it has its answer; only the probes sent while a large body was
in flight count. Prints each mode's `/health` median and p99 (ms), how many probes answered, and the
large bodies' own rate, then the baseline/threaded ratios.

    python bench/big_bodies.py --party pas --size 1000000 --bodies 8 --senders 3
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.e2e_throughput import free_ports  # noqa: E402
from harness.stack.embedded import PARTIES, EmbeddedStack  # noqa: E402
from harness.stack.endpoints import StackUrls  # noqa: E402
from harness.run.summary import percentile  # noqa: E402
from party_common.http_client import add_trace_headers  # noqa: E402

EXAMPLE = Path(os.environ.get("TESTBED_REFERENCE_DIR", REPO.parent / "shared" / "reference" / "bars-1.2.0")) / "process_message" / "POST-body.json"
BASES = {"spine": "", "pas": "/RT1", "gp": "/Y90001", "broker": ""}


def big_message(size: int, n: int) -> bytes:
    """A message Bundle of about `size` bytes: the BaRS example with its resources repeated (many
    resources, as a large real message has, rather than one long string the models pass over)."""
    source = json.loads(EXAMPLE.read_text()) if EXAMPLE.is_file() else _fallback()
    bundle = copy.deepcopy(source)
    bundle["id"] = f"1b0d6a1e-0000-4000-8000-{n:012d}"
    bundle["entry"][0]["resource"]["id"] = f"2c1e7b2f-0000-4000-8000-{n:012d}"
    k = 0
    while len(orjson.dumps(bundle)) < size:
        for entry in source["entry"][1:]:
            k += 1
            copied = copy.deepcopy(entry)
            copied["fullUrl"] = f"urn:uuid:3d2f8c3a-0000-4000-8000-{k:012d}"
            copied["resource"]["id"] = f"copy-{k}"
            bundle["entry"].append(copied)
    return orjson.dumps(bundle)


def _fallback() -> dict:
    """A small message of our own when the published example is not beside the project."""
    patient = {"resourceType": "Patient", "identifier": [
        {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}], "name": [{"family": "Test"}]}
    return {"resourceType": "Bundle", "type": "message", "entry": [
        {"fullUrl": "urn:uuid:0c1b3e1c-4b8a-4e0e-9f6e-1c2d3e4f5a6b", "resource": {
            "resourceType": "MessageHeader", "eventCoding": {"code": "booking-request"},
            "source": {"endpoint": "https://test.invalid"}}},
        {"fullUrl": "urn:uuid:1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "resource": patient}]}


async def measure(base: str, path: str, bodies: list[bytes], senders: int) -> dict:
    in_flight = 0
    probes: list[float] = []
    todo = iter(bodies)
    statuses: list[int] = []
    headers = {"Content-Type": "application/fhir+json"}
    async with httpx.AsyncClient(base_url=base, timeout=600, event_hooks={"request": [add_trace_headers]}) as http:
        async def sender():
            nonlocal in_flight
            for body in todo:
                in_flight += 1
                try:
                    statuses.append((await http.post(path, content=body, headers=headers)).status_code)
                finally:
                    in_flight -= 1

        async def prober():
            while not done.is_set():
                busy = in_flight > 0
                t = time.perf_counter()
                (await http.get("/health")).raise_for_status()
                if busy and in_flight > 0:
                    probes.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(0.005)

        done = asyncio.Event()
        probe = asyncio.create_task(prober())
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - started
        done.set()
        await probe
    if any(s >= 500 for s in statuses):
        raise SystemExit(f"a large body got a 5xx: {sorted(set(statuses))}")
    return {"probes": len(probes), "median": statistics.median(probes) if probes else None,
            "p99": percentile(probes, 99), "bodies_per_s": len(bodies) / elapsed, "statuses": sorted(set(statuses))}


def run_mode(party: str, threshold: int, limit: int, bodies: list[bytes], senders: int) -> dict:
    """The party alone under uvicorn (as `testbed up` starts it) with these settings, measured."""
    urls = StackUrls.local(ports=dict(zip(("broker", "spine", "pas", "gp"), free_ports(4))))
    prefix = next(p.env_prefix for p in PARTIES if p.name == party)
    env = {f"{prefix}PARSE_THREAD_BYTES": str(threshold), f"{prefix}MAX_BODY_BYTES": str(limit)}
    with tempfile.TemporaryDirectory() as tmp:
        stack = EmbeddedStack(urls, data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs", extra_env=env,
                              startup_timeout=120)
        stack.data_dir.mkdir(parents=True)
        stack.log_dir.mkdir(parents=True)
        try:
            stack.spawn(party)
            stack.wait_healthy([party])
            return asyncio.run(measure(getattr(urls, party), f"{BASES[party]}/$process-message", bodies, senders))
        finally:
            stack.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--party", choices=sorted(BASES), default="pas")
    ap.add_argument("--size", type=int, default=1_000_000, help="bytes of each large body")
    ap.add_argument("--bodies", type=int, default=8, help="large bodies sent in each mode")
    ap.add_argument("--senders", type=int, default=3, help="large bodies in flight at once")
    args = ap.parse_args()
    limit = max(args.size + 1024, 5 * 1024 * 1024)
    bodies = [big_message(args.size, i) for i in range(args.bodies)]
    print(f"{args.party}: {args.bodies} bodies of {len(bodies[0]):,} bytes, {args.senders} in flight; "
          f"/health latency (ms) while they are")
    results = {}
    for mode, threshold in (("inline (baseline)", limit), ("threaded (64 KiB)", 64 * 1024)):
        r = results[mode] = run_mode(args.party, threshold, limit, bodies, args.senders)
        print(f"  {mode:18} probes {r['probes']:5}  median {r['median'] or 0:9.1f}  p99 {r['p99'] or 0:9.1f}  "
              f"large bodies/s {r['bodies_per_s']:.2f}  answers {r['statuses']}")
    base, new = results["inline (baseline)"], results["threaded (64 KiB)"]
    if base["median"] and new["median"]:
        print(f"  baseline/threaded: median {base['median'] / new['median']:.1f}x, p99 {base['p99'] / new['p99']:.1f}x, "
              f"large bodies/s {new['bodies_per_s'] / base['bodies_per_s']:.2f}x of baseline")


if __name__ == "__main__":
    main()
