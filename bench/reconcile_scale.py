"""Reconciling a million bookings at each of four parties: time and memory, beside a naive join.

    python bench/reconcile_scale.py --bookings 1000000 --naive-bookings 100000

Generates each party's bulk export (NDJSON, one Appointment a line, in the shape the parties emit:
`party_common.booking.appointment_resource`) for N bookings, with a sprinkling of every kind of
discrepancy and some times written in another offset (which must still agree). Then, each in a
fresh child process so that its peak RSS is its own:

- fast: the reconciler's own reader (`PartyRecords.load_ndjson`, the code that reads an `$export`
  stream) and `reconcile_records`, then the report (counts, and every discrepancy with each party's
  view, as `testbed reconcile --json` prints it);
- naive: what one would write first: `json.loads` every line, one `BookingFacts` object per record
  (party_common's own reader), a dict of lists per party, the union of every UBRN, and the same
  rules applied to each booking; on a smaller N (it would not fit in memory at a million), so its
  figures are also shown scaled linearly.

Both must find exactly the discrepancies the generator planted; the bench fails otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.reconcile.kinds import KINDS  # noqa: E402

PARTIES = ("broker", "pas", "spine", "gp")
TRUSTS = ("RT1", "RT2", "RT3", "RT4")
PRACTICES = ("Y90001", "Y90002", "Y90003", "Y90004")

# Shares of bookings planted with each disagreement (the rest agree everywhere).
PLANTED = {
    "cancelled_everywhere": 0.05,    # agreement, through the slow path
    "offset_times_at_pas": 0.01,     # agreement: the same instant written +01:00
    "missing_at_pas": 0.02,
    "missing_at_spine": 0.01,
    "missing_at_gp": 0.005,
    "proposed_at_gp": 0.005,         # missing_at_gp too: asked, never told
    "status_mismatch": 0.003,
    "slot_mismatch": 0.002,
    "duplicate_at_pas": 0.002,
    "missing_at_broker": 0.001,
}


def _template() -> str:
    """An Appointment line with %s holes, from the parties' own builder (so the shape is theirs)."""
    import orjson

    from party_common.booking import BookingFacts, appointment_resource

    holes = ["@ID@", "@TRUST@", "@GP@", "@UBRN@", "@STATUS@", "@START@", "@END@", "@SLOT@", "@NHS@", "@SVC@", "@REF@"]
    facts = BookingFacts(ubrn="@UBRN@", nhs_number="@NHS@", trust_ods="@TRUST@", gp_ods="@GP@", service_id="@SVC@",
                         slot_id="@SLOT@", start="@START@", end="@END@", status="@STATUS@", specialty="cardiology",
                         appointment_id="@ID@", referral_id="@REF@")
    text = orjson.dumps(appointment_resource(facts)).decode().replace("%", "%%")
    order = sorted(holes, key=text.index)
    for h in holes:
        text = text.replace(h, "%s")
    assert order == holes, order   # the %s holes are filled in this order
    return text + "\n"


def generate(folder: Path, n: int, seed: int = 1) -> dict[str, int]:
    """Writes broker/pas/spine/gp .ndjson for n bookings; returns the discrepancy counts planted."""
    tpl = _template()
    rng = random.Random(seed)
    kinds = list(PLANTED)
    weights = [PLANTED[k] for k in kinds] + [1 - sum(PLANTED.values())]
    kinds.append("agree")
    counts = dict.fromkeys(KINDS, 0)
    files = {p: open(folder / f"{p}.ndjson", "w", buffering=1 << 22) for p in PARTIES}
    w = {p: f.write for p, f in files.items()}
    base = 1_700_000_000
    try:
        for i, kind in enumerate(rng.choices(kinds, weights, k=n)):
            ubrn = f"{100_000_000_000 + i:012d}"
            trust, gp = TRUSTS[i % 4], PRACTICES[(i // 4) % 4]
            svc = f"{trust}-cardiology-{i % 7}"
            minute = base // 60 + (i % 40_000) * 15
            hh, mm = divmod(minute % 1440, 60)
            day = 1 + (minute // 1440) % 28
            start = f"2027-02-{day:02d}T{hh:02d}:{mm:02d}:00Z"
            hh2, mm2 = divmod(minute % 1440 + 15, 60)
            end = f"2027-02-{day:02d}T{hh2 % 24:02d}:{mm2:02d}:00Z"
            slot = f"{svc}-2027-02-{day:02d}-{i}"
            nhs, ref = f"999{i % 10_000_000:07d}", f"ref-{i}"
            rows = {p: "booked" for p in PARTIES}
            pas_start, pas_slot, pas_copies = start, slot, 1
            if kind == "cancelled_everywhere":
                rows = {p: "cancelled" for p in PARTIES}
            elif kind == "offset_times_at_pas":
                pas_start = f"2027-02-{day:02d}T{(hh + 1) % 24:02d}:{mm:02d}:00+01:00" if hh < 23 else start
            elif kind == "missing_at_pas":
                rows["pas"] = None
            elif kind == "missing_at_spine":
                rows["spine"] = None
            elif kind == "missing_at_gp":
                rows["gp"] = None
            elif kind == "proposed_at_gp":
                rows["gp"] = "proposed"
            elif kind == "status_mismatch":
                rows = {"broker": "cancelled", "pas": "booked", "spine": "cancelled", "gp": "cancelled"}
            elif kind == "slot_mismatch":
                pas_slot = slot + "-moved"
            elif kind == "duplicate_at_pas":
                pas_copies = 2
            elif kind == "missing_at_broker":
                rows["broker"] = rows["spine"] = rows["gp"] = None
            planted = {"proposed_at_gp": "missing_at_gp", "cancelled_everywhere": None, "offset_times_at_pas": None,
                       "agree": None}.get(kind, kind)
            if planted:
                counts[planted] += 1
            for party, status in rows.items():
                if status is None:
                    continue
                s, sl = (pas_start, pas_slot) if party == "pas" else (start, slot)
                line = tpl % (ubrn if party != "pas" else f"a{i}", trust, gp, ubrn, status, s, end, sl, nhs, svc, ref)
                for _ in range(pas_copies if party == "pas" else 1):
                    w[party](line)
    finally:
        for f in files.values():
            f.close()
    return counts


def _mem() -> dict[str, float]:
    """Resident and peak resident memory of this process, MB."""
    status = Path("/proc/self/status").read_text().splitlines()
    vals = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss_mb": round(vals.get("VmRSS", 0), 1),
            "peak_mb": round(vals.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1)}


def child_fast(folder: Path) -> dict:
    from harness.reconcile import PartyRecords, Reconciliation, Strings, reconcile_records

    out = {"mode": "fast", "start": _mem()}
    t0, c0 = time.perf_counter(), time.process_time()
    strings = Strings()
    parties = {p: PartyRecords(p, strings) for p in PARTIES}
    for p in PARTIES:
        parties[p].load_ndjson(folder / f"{p}.ndjson")
    t1, c1 = time.perf_counter(), time.process_time()
    out["after_read"] = _mem()
    result = reconcile_records(parties["broker"], parties["pas"], parties["spine"], parties["gp"])
    t2, c2 = time.perf_counter(), time.process_time()
    rec = Reconciliation(parties, result.discrepancies, result.checked, result.disagreeing)
    doc = rec.to_json()
    body = json.dumps(doc)
    t3, c3 = time.perf_counter(), time.process_time()
    out["cpu"] = {"read_s": round(c1 - c0, 3), "reconcile_s": round(c2 - c1, 3), "report_s": round(c3 - c2, 3)}
    out.update(read_s=round(t1 - t0, 3), reconcile_s=round(t2 - t1, 3), report_s=round(t3 - t2, 3),
               records=sum(r.records for r in parties.values()), checked=rec.checked, counts=rec.counts(),
               report_mb=round(len(body) / 1e6, 1), end=_mem())
    return out


def child_naive(folder: Path) -> dict:
    """The first thing one would write: whole objects per record, a dict of lists, every booking checked."""
    from harness.reconcile.records import normalise_time
    from harness.reconcile.rules import classify
    from party_common.booking import read_appointment
    from party_common.identifiers import UBRN_SYSTEM

    out = {"mode": "naive", "start": _mem()}
    t0, c0 = time.perf_counter(), time.process_time()
    data: dict[str, dict[str, list]] = {}
    for p in PARTIES:
        by_ubrn: dict[str, list] = {}
        with open(folder / f"{p}.ndjson") as fh:
            for line in fh:
                appt = json.loads(line)
                facts = read_appointment(appt)
                if facts.ubrn is None:
                    facts.ubrn = next((i["value"] for i in appt.get("identifier", []) if i["system"] == UBRN_SYSTEM), None)
                by_ubrn.setdefault(facts.ubrn, []).append(facts)
        data[p] = by_ubrn
    t1, c1 = time.perf_counter(), time.process_time()
    out["after_read"] = _mem()

    def as_rec(f):
        return (f.status, f.slot_id, normalise_time(f.start) if f.start else None,
                normalise_time(f.end) if f.end else None, f.trust_ods, f.gp_ods)

    found = []
    everyone = set().union(*(d.keys() for d in data.values()))
    for u in sorted(everyone):
        led = data["broker"].get(u)
        spine, gp = data["spine"].get(u), data["gp"].get(u)
        found += classify(u, as_rec(led[0]) if led else None, [as_rec(f) for f in data["pas"].get(u, [])],
                          as_rec(spine[0]) if spine else None, as_rec(gp[0]) if gp else None)
    t2, c2 = time.perf_counter(), time.process_time()
    out["cpu"] = {"read_s": round(c1 - c0, 3), "reconcile_s": round(c2 - c1, 3), "report_s": 0.0}
    counts = dict.fromkeys(KINDS, 0)
    for d in found:
        counts[d.kind] += 1
    out.update(read_s=round(t1 - t0, 3), reconcile_s=round(t2 - t1, 3), report_s=0.0,
               records=sum(len(v) for d in data.values() for v in d.values()), checked=len(everyone),
               counts=counts, end=_mem())
    return out


def run_child(mode: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, "--dir", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(label: str, r: dict, n: int, scale: float = 1.0) -> None:
    c = r["cpu"]
    scaled = f"   (x{scale:g}: read {c['read_s'] * scale:.1f} s, reconcile {c['reconcile_s'] * scale:.1f} s cpu)" if scale != 1 else ""
    print(f"  {label:<6} n={n:>9,}  wall: read {r['read_s']:6.2f} s  reconcile {r['reconcile_s']:5.2f} s  "
          f"report {r['report_s']:5.2f} s | cpu: read {c['read_s']:6.2f} s  reconcile {c['reconcile_s']:5.2f} s  "
          f"report {c['report_s']:5.2f} s | peak RSS {r['end']['peak_mb']:5.0f} MB (after read "
          f"{r['after_read']['rss_mb']:.0f} MB){scaled}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bookings", type=int, default=1_000_000)
    ap.add_argument("--naive-bookings", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, help="where the NDJSON files go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--child", choices=["fast", "naive"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps((child_fast if args.child == "fast" else child_naive)(args.dir)))
        return

    root = args.dir or Path(tempfile.mkdtemp(prefix="reconcile-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        print(f"reconcile_scale: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
        results = {}
        for n in sorted({args.bookings, args.naive_bookings}):
            folder = root / f"n{n}"
            folder.mkdir(exist_ok=True)
            t = time.perf_counter()
            planted = generate(folder, n)
            size = sum((folder / f"{p}.ndjson").stat().st_size for p in PARTIES)
            lines = sum(1 for p in PARTIES for _ in open(folder / f"{p}.ndjson", "rb"))
            print(f"generated n={n:,}: {lines:,} Appointments, {size / 1e9:.2f} GB of NDJSON in "
                  f"{time.perf_counter() - t:.1f} s; planted {sum(planted.values()):,} discrepancies")
            modes = ["fast"] + (["naive"] if n == args.naive_bookings else [])
            for mode in modes:
                r = run_child(mode, folder)
                if r["counts"] != planted:
                    raise SystemExit(f"{mode} at n={n} found {r['counts']}, planted {planted}")
                results[(mode, n)] = r
        print("results (each in its own process; every run found exactly what was planted):")
        big, small = args.bookings, args.naive_bookings
        show("fast", results[("fast", big)], big)
        if big != small:
            show("fast", results[("fast", small)], small)
        scale = big / small
        show("naive", results[("naive", small)], small, scale)
        fs, nv = results[("fast", small)]["cpu"], results[("naive", small)]["cpu"]
        print(f"  at n={small:,} (cpu time): naive / fast = {nv['reconcile_s'] / fs['reconcile_s']:.1f}x to reconcile, "
              f"{(nv['read_s'] + nv['reconcile_s']) / (fs['read_s'] + fs['reconcile_s']):.1f}x to read and reconcile, "
              f"{results[('naive', small)]['end']['peak_mb'] / results[('fast', small)]['end']['peak_mb']:.1f}x peak memory")
        fb = results[("fast", big)]
        nvr = results[("naive", small)]
        print(f"  at n={big:,}: fast reconcile {fb['reconcile_s']:.2f} s wall, {fb['cpu']['reconcile_s']:.2f} s cpu "
              f"(bound 10 s); peak RSS {fb['end']['peak_mb']:.0f} MB (bound 2048 MB); naive scaled x{scale:g}: "
              f"reconcile {nv['reconcile_s'] * scale:.1f} s cpu, read {nv['read_s'] * scale:.1f} s cpu, ~"
              f"{(nvr['after_read']['rss_mb'] - nvr['start']['rss_mb']) * scale / 1024:.1f} GB for its records alone")
        print(f"  counts at n={big:,}: " + ", ".join(f"{k} {v:,}" for k, v in fb["counts"].items()))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
