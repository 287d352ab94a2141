"""What a run amounts to: counts, latency percentiles, per-link outcomes."""

from __future__ import annotations

import math
from collections import Counter

from harness.run.workload import BookingResult


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def links_delta(before: dict, after: dict) -> dict:
    """Outcomes per link during the run: the broker's counters are cumulative, so subtract."""
    out: dict[str, dict] = {}
    b_links = before.get("links", {})
    for link, entry in after.get("links", {}).items():
        prev = b_links.get(link, {})
        outcomes = {k: v - prev.get("outcomes", {}).get(k, 0) for k, v in entry.get("outcomes", {}).items()}
        outcomes = {k: v for k, v in outcomes.items() if v}
        if not outcomes:
            continue
        events = {}
        for event, counts in entry.get("events", {}).items():
            pe = prev.get("events", {}).get(event, {})
            diff = {k: v - pe.get(k, 0) for k, v in counts.items() if v - pe.get(k, 0)}
            if diff:
                events[event] = diff
        out[link] = {"attempts": sum(outcomes.values()), "outcomes": outcomes, "events": events}
    return out


def summarise(results: list[BookingResult], *, duration_s: float, confirmed_at_gp: int | None,
              links: dict) -> dict:
    outcomes = Counter(r.outcome for r in results)
    latencies = [r.latency_ms for r in results if r.outcome == "accepted"]
    return {
        "bookings": {
            "attempted": len(results),
            "accepted": outcomes.get("accepted", 0),
            "confirmed_at_gp": confirmed_at_gp,
            "refused": outcomes.get("refused", 0),
            "unavailable": outcomes.get("unavailable", 0),
            "errors": outcomes.get("error", 0),
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else None,
        },
        "duration_s": round(duration_s, 3),
        "bookings_per_s": round(len(results) / duration_s, 2) if duration_s > 0 else None,
        "links": links,
    }
