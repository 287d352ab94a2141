"""Every message the broker sends or receives travels a named link; the courier carries it.

Link names: `broker->spine`, `broker->pas:<ODS>`, `broker->gp:<ODS>`, `gp:<ODS>->broker`. The courier
is the one place a message leaves the broker, so counting (and, later, fault injection and the
journal) happens here and nowhere else.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import httpx
import structlog

from party_common.fhir_json import FHIR_JSON

log = structlog.get_logger("courier")

DELIVERED = "delivered"      # 2xx answer
REJECTED = "rejected"        # 4xx answer: the receiver refused the message
FAILED = "failed"            # 5xx answer
UNREACHABLE = "unreachable"  # no connection
TIMEOUT = "timeout"          # sent, no answer in time


@dataclass
class Delivery:
    link: str
    event: str
    outcome: str
    status: int | None
    body: dict | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.outcome == DELIVERED


class LinkStats:
    def __init__(self):
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def record(self, link: str, event: str, outcome: str) -> None:
        self.counts[(link, event, outcome)] += 1

    def as_json(self) -> dict:
        links: dict[str, dict] = {}
        for (link, event, outcome), n in sorted(self.counts.items()):
            entry = links.setdefault(link, {"attempts": 0, "outcomes": {}, "events": {}})
            entry["attempts"] += n
            entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + n
            ev = entry["events"].setdefault(event, {})
            ev[outcome] = ev.get(outcome, 0) + n
        return {"links": links}

    def reset(self) -> None:
        self.counts.clear()


def outcome_for_status(status: int) -> str:
    if status < 400:
        return DELIVERED
    if status < 500:
        return REJECTED
    return FAILED


class Courier:
    def __init__(self, client: httpx.AsyncClient, stats: LinkStats):
        self.client = client
        self.stats = stats

    async def send(self, link: str, event: str, method: str, url: str, body: dict | None = None,
                   params: dict | None = None) -> Delivery:
        started = time.perf_counter()
        status = None
        payload = None
        try:
            response = await self.client.request(
                method, url, json=body, params=params,
                headers={"Content-Type": FHIR_JSON} if body is not None else None,
            )
            status = response.status_code
            outcome = outcome_for_status(status)
            try:
                payload = response.json()
            except ValueError:
                payload = None
        except httpx.TimeoutException:
            outcome = TIMEOUT
        except httpx.TransportError:
            outcome = UNREACHABLE
        latency = (time.perf_counter() - started) * 1000
        self.stats.record(link, event, outcome)
        if outcome != DELIVERED:
            log.info("delivery not ok", link=link, event_code=event, outcome=outcome, status=status)
        return Delivery(link, event, outcome, status, payload, round(latency, 3))
