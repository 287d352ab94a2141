"""Every message a carrying party (the broker, the middleware) sends or receives travels a named link;
the courier carries it.

Link names: `broker->spine`, `broker->pas:<ODS>`, `broker->gp:<ODS>`, `gp:<ODS>->broker`,
`middleware->spine`, `middleware->pas:<ODS>`. The courier is the one place a message crosses a
link, so the fault engine's decision, the journal entry, the per-link counts and the metrics all
happen here and nowhere else, for both directions.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

import httpx
import structlog

from party_common.fhir_json import FHIR_JSON
from party_common.identifiers import UBRN_SYSTEM
from party_common.journal_entries import Key, message_key

from party_common.links.faults.actions import Attempt
from party_common.links.faults.engine import PASS, FaultEngine
from party_common.links.journal import Journal
from party_common.links.message_log import MessageLog
from party_common.links.metrics import LinkMetrics
from party_common.links.outcomes import HELD, TIMEOUT, UNREACHABLE, Delivery, outcome_for_status

log = structlog.get_logger("courier")

Transfer = Callable[..., Awaitable[Delivery]]   # transfer(content: bytes | None = None) -> Delivery

# The bundle id of the practice's message being processed: the messages the broker sends while
# processing it are journaled with it as their origin, so a message without a MessageHeader of its
# own ($allocate-ubrn) is still known by what caused it, in a replay's script and in a trace.
ORIGIN: contextvars.ContextVar[str | None] = contextvars.ContextVar("origin", default=None)


class LinkStats:
    """Outcome counts per link and event since start (or reset): what `GET /links` shows."""

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


def message_ids(body: dict | None) -> tuple[str | None, str | None, str | None]:
    """(MessageHeader.id, Bundle.id, UBRN) of a message Bundle, for the journal."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return None, None, None
    entries = body.get("entry") or []
    header = (entries[0].get("resource") or {}) if entries else {}
    ubrn = None
    for entry in entries[1:]:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Appointment":
            ubrn = next((i.get("value") for i in res.get("identifier") or [] if i.get("system") == UBRN_SYSTEM), None)
            break
    return header.get("id"), body.get("id"), ubrn


class Courier:
    def __init__(self, client: httpx.AsyncClient, stats: LinkStats, engine: FaultEngine, journal: Journal,
                 metrics: LinkMetrics, faults_enabled: bool = True, messages: MessageLog | None = None):
        self.client = client
        self.messages = messages if messages is not None else MessageLog()
        self.faults_enabled = faults_enabled
        self.stats = stats
        self.engine = engine
        self.journal = journal
        self.metrics = metrics
        self._held: dict[str, list[tuple[Transfer, dict]]] = defaultdict(list)
        self._releasing = 0  # taken off the held queues but not yet delivered
        self._timers: set[asyncio.Task] = set()

    async def send(self, link: str, event: str, method: str, url: str, body: dict | None = None,
                   params=None, *, ubrn: str | None = None, attempt: int = 1,
                   purpose: str = "delivery") -> Delivery:
        """An outbound HTTP request on a link, through the fault engine."""

        clock = self.engine.clock

        async def transfer(content: bytes | None = None) -> Delivery:
            started = clock.monotonic()
            status, payload = None, None
            try:
                if content is not None:
                    response = await self.client.request(method, url, content=content, params=params,
                                                         headers={"Content-Type": FHIR_JSON})
                else:
                    response = await self.client.request(
                        method, url, json=body, params=params,
                        headers={"Content-Type": FHIR_JSON} if body is not None else None)
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
            latency = round((clock.monotonic() - started) * 1000, 3)
            return Delivery(link, event, outcome, status, payload, latency,
                            delivered=status is not None and status < 300)

        return await self.carry(link, event, body, transfer, ubrn=ubrn, attempt=attempt, purpose=purpose,
                                method=method, url=url)

    async def carry(self, link: str, event: str, body: dict | None, transfer: Transfer, *,
                    ubrn: str | None = None, attempt: int = 1, purpose: str = "delivery",
                    method: str | None = "POST", url: str | None = None) -> Delivery:
        """Carries one message over a link: decide, apply, journal, count; releases held messages."""
        header_id, bundle_id, body_ubrn = message_ids(body)
        origin = ORIGIN.get()
        meta = {"message_id": header_id, "bundle_id": bundle_id, "ubrn": ubrn or body_ubrn, "attempt": attempt,
                "purpose": purpose, "origin_id": origin}
        key = message_key(link, event, header_id, origin, attempt, purpose)
        token = ORIGIN.set(bundle_id) if link.endswith("->broker") else None
        try:
            async with self.engine.turn(key):
                delivery = await self._carry(link, event, body, transfer, meta, key)
        finally:
            if token is not None:
                ORIGIN.reset(token)
        self.messages.append(delivery.seq, method, url, body)
        # Nothing acts on this attempt (an answer, an outbox row marked delivered) until its entry is
        # committed: see journal.py.
        await self.journal.durable(delivery.seq)
        if self._held.get(link) and delivery.outcome != HELD:
            await self.release(link)
        return delivery

    async def _carry(self, link: str, event: str, body: dict | None, transfer: Transfer, meta: dict,
                     key: Key) -> Delivery:
        decision = self.engine.decide(link, event, key) if self.faults_enabled else PASS
        rule_id = decision.rule.id if decision.rule else None
        if decision.action is None:
            delivery = await transfer()
        else:
            held = {"flag": False}

            def hold() -> None:
                held["flag"] = True

            copies: list[Delivery] = []

            async def send_for_action(content: bytes | None = None, copy: bool = False) -> Delivery:
                d = await transfer(content)
                if copy:
                    copies.append(d)
                return d

            started = self.engine.clock.monotonic()
            delivery = await decision.action.apply(Attempt(
                link=link, event=event, body=body, send=send_for_action, clock=self.engine.clock,
                rng=self.engine.params_stream(key), elapsed=decision.elapsed, hold=hold))
            # What the sender waited, delays and timeouts included, on the engine's clock.
            waited = round((self.engine.clock.monotonic() - started) * 1000, 3)
            delivery.latency_ms = max(delivery.latency_ms, waited)
            if held["flag"]:
                self._held[link].append((transfer, {**meta, "event": event}))
                max_hold = getattr(decision.action.params, "max_hold_ms", 2000) / 1000
                timer = asyncio.get_running_loop().create_task(self._release_after(max_hold, link))
                self._timers.add(timer)
                timer.add_done_callback(self._timers.discard)
            for copy in copies:
                copy.decision = "duplicate-copy"
                copy.rule_id = rule_id
                self._record(copy, meta, decision.elapsed)
        delivery.decision = decision.name
        delivery.rule_id = rule_id
        delivery.seq = self._record(delivery, meta, decision.elapsed)
        return delivery

    def _record(self, d: Delivery, meta: dict, elapsed: float) -> int:
        self.stats.record(d.link, d.event, d.outcome)
        self.metrics.messages.labels(d.link, d.event, d.decision, d.outcome).inc()
        self.metrics.latency.labels(d.link).observe(d.latency_ms / 1000)
        seq = self.journal.append(elapsed_s=round(elapsed, 6), link=d.link, event=d.event,
                                  message_id=meta["message_id"], bundle_id=meta["bundle_id"], ubrn=meta["ubrn"],
                                  decision=d.decision, rule_id=d.rule_id, outcome=d.outcome,
                                  delivered=d.delivered, status=d.status, latency_ms=d.latency_ms,
                                  attempt=meta["attempt"], purpose=meta["purpose"], origin_id=meta["origin_id"])
        if d.outcome not in ("delivered",):
            log.info("delivery not ok", link=d.link, event_code=d.event, outcome=d.outcome, status=d.status,
                     decision=d.decision, ubrn=meta["ubrn"])
        return seq

    async def release(self, link: str | None = None) -> int:
        """Sends the messages a reorder fault held back (on one link, or all); returns how many."""
        links = [link] if link else list(self._held)
        released = 0
        for name in links:
            queue, self._held[name] = self._held.get(name, []), []
            self._releasing += len(queue)
            for transfer, meta in queue:
                try:
                    d = await transfer()
                    d.decision = "release"
                    await self.journal.durable(
                        self._record(d, meta, self.engine.clock.monotonic() - self.engine.started))
                finally:
                    self._releasing -= 1
                released += 1
        return released

    async def _release_after(self, seconds: float, link: str) -> None:
        # On the engine's clock, so on a virtual clock the hold ends when the harness advances past it.
        await self.engine.clock.sleep(seconds)
        if self._held.get(link):
            await self.release(link)

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()

    @property
    def releasing(self) -> bool:
        return self._releasing > 0

    @property
    def held_count(self) -> int:
        return sum(len(q) for q in self._held.values()) + self._releasing
