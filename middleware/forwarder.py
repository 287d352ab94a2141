"""The forwarding worker: takes the queue's head, looks its patient up at the spine, sends it to the
legacy PAS over MLLP and settles it by the answer; and the engine's restart, modelled in the process.

- Spine look-up (`spine_lookup`): the patient is read at the spine before a booking or referral goes
  on. A spine that does not answer leaves the message at the head of the queue, tried again after
  `spine_retry_s`; a patient the spine does not know is refused at the trust (settled `refused`).
- Crash condition (`crash_after_spine_failures` N): after N look-ups in a row that found no spine,
  the engine restarts. The restart is in-process: for `restart_s` on the party's clock every request
  but the control routes is answered 503 with Retry-After (middleware/restart_gate.py), an in-memory
  queue is emptied (what it held is named in GET /queue's `restarts`), a persistent one is kept and
  its head sent again, same control id, once the restart is over. A real kill of the process does
  the same to the memory queue without naming anything.
- ACK: `AA` settles the message `acked`; `AE` (refused at the trust: slot taken, unknown booking) and
  `AR` (not processed) settle it `refused` and it is never sent again (the journal has the attempt,
  outcome `rejected`); no answer within `ack_timeout_s`, or no connection, sends it again, at most
  `resends` times, with the same control id; then it is settled `undelivered`.

The worker counts as the party's work on its clock while it is neither asleep on the clock (a spine
retry, a restart, the wait for an ACK) nor waiting on a call, and from the moment a message is queued
until the worker takes it (`due`), as the broker's outbox does: on a virtual clock the harness moves
time only when nothing here is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

import structlog

from party_common.clock import Clock
from party_common.links.courier import ORIGIN, Courier
from party_common.links.outcomes import DELIVERED, REJECTED, TIMEOUT, Delivery
from party_common.messaging import BOOKING_CANCEL

from middleware.mllp import exchange
from middleware.queue import ACKED, REFUSED, UNDELIVERED, Item, Queue
from middleware.settings import Settings

log = structlog.get_logger("forwarder")

SPINE_LINK = "middleware->spine"


def pas_link(ods: str) -> str:
    return f"middleware->pas:{ods}"


class Forwarder:
    def __init__(self, settings: Settings, queue: Queue, courier: Courier, clock: Clock):
        self.settings = settings
        self.queue = queue
        self.courier = courier
        self.clock = clock
        self.spine_failures = 0
        self.restarting_until: float | None = None
        self.restarts: list[dict] = []
        self._generation = 0
        self._wake = asyncio.Event()
        self._draining = False
        self._task: asyncio.Task | None = None

    # -- running -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._wake.set()   # a persistent queue may hold what an earlier run left
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def notify(self) -> None:
        self._wake.set()

    @property
    def due(self) -> bool:
        """A message queued that the worker has not taken up yet (its work, for the clock). While the
        worker is at the queue it takes every message there itself, and counts as work on its own."""
        return self._wake.is_set() and not self._draining

    @property
    def restarting(self) -> bool:
        return self.restarting_until is not None

    def retry_after(self) -> int:
        left = (self.restarting_until or 0) - self.clock.monotonic()
        return max(1, math.ceil(left))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self.clock.working():
                self._draining = True
                try:
                    while (item := await self.queue.head()) is not None:
                        try:
                            await self._forward(item)
                        except asyncio.CancelledError:
                            raise
                        except Exception:  # a bug or the database gone: leave it queued, try at the next wake
                            log.error("forwarding failed", exc_info=True, ubrn=item.ubrn)
                            break
                finally:
                    self._draining = False

    # -- one message ---------------------------------------------------------------------------------

    async def _forward(self, item: Item) -> None:
        generation = self._generation
        # A cancellation names a booking the PAS has; only what brings a patient in is looked up.
        if self.settings.spine_lookup and item.event != BOOKING_CANCEL:
            known = await self._look_up(item)
            if self._generation != generation or known is None:
                return   # restarted meanwhile (the item is gone or will be taken again), or to be tried again
            if not known:
                await self.queue.settle(item, REFUSED, "the spine does not know the patient", self.clock.now())
                return
        address = self.settings.pas_mllp.get(item.ods)
        link = pas_link(item.ods)
        for _ in range(self.settings.resends + 1):
            await self.queue.attempted(item)
            d = await self._send(item, address, link)
            if d.outcome == DELIVERED:
                await self.queue.settle(item, ACKED, None, self.clock.now())
                return
            if d.outcome == REJECTED:
                detail = (d.body or {}).get("error") if isinstance(d.body, dict) else None
                ack = (d.body or {}).get("ack") if isinstance(d.body, dict) else None
                log.info("refused at the trust", ubrn=item.ubrn, ack=ack, error=detail)
                await self.queue.settle(item, REFUSED, f"{ack or 'refused'}: {detail or ''}".strip(), self.clock.now())
                return
            if d.outcome != TIMEOUT:
                # Refused a connection or cut off at once: wait as long as for an ACK before sending again.
                await self.clock.sleep(self.settings.ack_timeout_s)
        await self.queue.settle(item, UNDELIVERED, f"no ACK after {item.attempts} attempts", self.clock.now())

    async def _send(self, item: Item, address: str | None, link: str) -> Delivery:
        clock, timeout = self.clock, self.settings.ack_timeout_s

        async def transfer(content: bytes | None = None) -> Delivery:
            if address is None:
                return Delivery(link, item.event, "unreachable", None, None, 0.0)
            # A `corrupt` fault hands the transfer mangled content: the v2 message is cut short instead.
            return await exchange(address, item.er7, item.control_id, clock, timeout, link=link,
                                  event=item.event, cut=content is not None)

        return await self.courier.carry(link, item.event, item.bundle, transfer, ubrn=item.ubrn,
                                        attempt=item.attempts, method="MLLP", url=f"mllp://{address}")

    async def _look_up(self, item: Item) -> bool | None:
        """True: the spine knows the patient; False: it does not; None: no answer (tried again later)."""
        item.spine_tries += 1
        token = ORIGIN.set(item.bundle.get("id"))
        try:
            d = await self.courier.send(SPINE_LINK, "patient-read", "GET",
                                        f"{self.settings.spine_url.rstrip('/')}/Patient/{item.nhs_number}",
                                        ubrn=item.ubrn, attempt=item.spine_tries)
        finally:
            ORIGIN.reset(token)
        if d.ok:
            self.spine_failures = 0
            return True
        if d.outcome == REJECTED and d.status in (404, 410):
            self.spine_failures = 0
            return False
        self.spine_failures += 1
        limit = self.settings.crash_after_spine_failures
        if limit and self.spine_failures >= limit:
            await self.restart(f"{self.spine_failures} spine look-ups in a row failed")
            return None
        await self.clock.sleep(self.settings.spine_retry_s)
        return None

    # -- the restart ---------------------------------------------------------------------------------

    async def restart(self, reason: str) -> None:
        """The engine falls over and comes back `restart_s` later, on the party's clock."""
        self._generation += 1
        self.restarting_until = self.clock.monotonic() + self.settings.restart_s
        lost = self.queue.lose_all()
        self.restarts.append({"at": self.clock.now().isoformat(), "reason": reason, "queue": self.queue.mode,
                              "lost": [{"ubrn": i.ubrn, "event": i.event, "bundle_id": i.bundle.get("id"),
                                        "control_id": i.control_id} for i in lost]})
        log.warning("engine restarting", reason=reason, lost=len(lost), queue=self.queue.mode)
        try:
            await self.clock.sleep(self.settings.restart_s)
        finally:
            self.restarting_until = None
            self.spine_failures = 0
