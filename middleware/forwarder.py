"""The forwarding worker: takes the queue's head, looks its patient up at the spine, sends it to the
legacy PAS over MLLP and settles it by the answer; and the engine's restart, modelled in the process.

- Spine look-up (`spine_lookup`): the patient is read at the spine before a booking or referral goes
  on. A spine that does not answer leaves the message at the head of the queue, tried again after
  `spine_retry_s`; a patient the spine does not know is refused at the trust (settled `refused`).
- Crash conditions: after `crash_after_spine_failures` N look-ups in a row that found no spine; or
  when a message queued makes the queue `crash_at_queue_depth` deep (a 2006 engine running out of
  memory as messages back up behind a slow PAS), decided once that message is queued and its 200 to
  the broker decided, so the broker is told it is taken and it is lost with the rest. The restart is
  in-process: for `restart_s` on the party's clock every request but the control routes is answered
  503 with Retry-After (middleware/restart_gate.py), an in-memory queue is emptied (named in GET
  /queue's `restarts`: `lost`, never sent, and `in_flight`, sent and its ACK not read, which the PAS
  may have), a persistent one is kept and its head sent again, same control id, once the restart is
  over. A real kill of the process does the same to the memory queue without naming anything.
  The worker that was forwarding is left to finish the exchange it is in (an answer on the wire is
  read, and journaled as what the PAS did) and settles nothing; a new worker sits out the restart.
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
import math

import structlog

from party_common.clock import Clock
from party_common.links.courier import ORIGIN, Courier
from party_common.links.outcomes import DELIVERED, REJECTED, TIMEOUT, Delivery
from party_common.messaging import BOOKING_CANCEL
from party_common.reaping import reap

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
        # A restart decided whose new worker is not yet asleep on the clock (work, for the clock).
        self._restart_due = False
        self._current: Item | None = None   # the message being forwarded
        self._workers: set[asyncio.Task] = set()
        queue.on_queued = self._queued

    # -- running -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._wake.set()   # a persistent queue may hold what an earlier run left
        self._spawn()

    async def stop(self) -> None:
        await reap(*self._workers)

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._run(self._generation))
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    def notify(self) -> None:
        self._wake.set()

    @property
    def due(self) -> bool:
        """A message queued that the worker has not taken up yet, or a restart whose worker has not
        started (its work, for the clock). While the worker is at the queue it takes every message
        there itself, and counts as work on its own; while it sits out a restart, it is asleep."""
        return self._restart_due or (self._wake.is_set() and not self._draining and not self.restarting)

    @property
    def restarting(self) -> bool:
        return self.restarting_until is not None

    def retry_after(self) -> int:
        left = (self.restarting_until or 0) - self.clock.monotonic()
        return max(1, math.ceil(left))

    async def _run(self, generation: int) -> None:
        """One engine's worker: from a restart, it first sits the restart out. It ends when the
        engine falls over again (the next engine's worker takes over)."""
        if self.restarting_until is not None:
            with self.clock.working():
                self._restart_due = False   # its work now, until asleep on the clock
                await self._sit_out_restart()
                self._wake.set()   # a persistent queue kept what it held
        while self._generation == generation:
            await self._wake.wait()
            if self._generation != generation:
                return
            self._wake.clear()
            with self.clock.working():
                self._draining = True
                try:
                    while self._generation == generation and (item := await self.queue.head()) is not None:
                        try:
                            await self._forward(item)
                        except asyncio.CancelledError:
                            raise
                        except Exception:  # a bug or the database gone: leave it queued, try at the next wake
                            log.error("forwarding failed", exc_info=True, ubrn=item.ubrn)
                            break
                finally:
                    if self._generation == generation:
                        self._draining = False

    # -- one message ---------------------------------------------------------------------------------

    async def _forward(self, item: Item) -> None:
        generation = self._generation
        self._current = item
        try:
            await self._forward_once(item, generation)
        finally:
            if self._generation == generation:
                self._current = None

    async def _forward_once(self, item: Item, generation: int) -> None:
        # After each wait: an engine that fell over meanwhile settles nothing (the item is gone, or
        # kept and taken again by the next engine's worker).
        # A cancellation names a booking the PAS has; only what brings a patient in is looked up.
        if self.settings.spine_lookup and item.event != BOOKING_CANCEL:
            known = await self._look_up(item, generation)
            if self._generation != generation or known is None:
                return   # restarted meanwhile, or to be tried again
            if not known:
                await self.queue.settle(item, REFUSED, "the spine does not know the patient", self.clock.now())
                return
        address = self.settings.pas_mllp.get(item.ods)
        link = pas_link(item.ods)
        for _ in range(self.settings.resends + 1):
            await self.queue.attempted(item)
            d = await self._send(item, address, link)
            if self._generation != generation:
                return
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
                if self._generation != generation:
                    return
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

    async def _look_up(self, item: Item, generation: int) -> bool | None:
        """True: the spine knows the patient; False: it does not; None: no answer (tried again later)."""
        item.spine_tries += 1
        token = ORIGIN.set(item.bundle.get("id"))
        try:
            d = await self.courier.send(SPINE_LINK, "patient-read", "GET",
                                        f"{self.settings.spine_url.rstrip('/')}/Patient/{item.nhs_number}",
                                        ubrn=item.ubrn, attempt=item.spine_tries)
        finally:
            ORIGIN.reset(token)
        if self._generation != generation:
            return None   # the engine fell over meanwhile: its count of failures went with it
        if d.ok:
            self.spine_failures = 0
            return True
        if d.outcome == REJECTED and d.status in (404, 410):
            self.spine_failures = 0
            return False
        self.spine_failures += 1
        limit = self.settings.crash_after_spine_failures
        if limit and self.spine_failures >= limit:
            self.restart(f"{self.spine_failures} spine look-ups in a row failed")
            return None
        await self.clock.sleep(self.settings.spine_retry_s)
        return None

    # -- the restart ---------------------------------------------------------------------------------

    def _queued(self, depth: int) -> None:
        """The queue is `depth` deep with a message just queued (its transaction committed). The
        message that makes it `crash_at_queue_depth` deep knocks the engine over; one that finds it
        deeper does not (a persistent queue comes back from a restart as deep as it went down: at
        `>=` every message then would knock it over again, and its head, resent after each restart,
        would never be answered in time)."""
        limit = self.settings.crash_at_queue_depth
        if limit and depth == limit:
            self.restart(f"the queue reached {depth} messages (it falls over at {limit})")

    def restart(self, reason: str) -> None:
        """The engine falls over and comes back `restart_s` later, on the party's clock: what an
        in-memory queue held goes now, and a new worker (`_run`) sits out the restart."""
        if self.restarting:
            return
        self._generation += 1
        self.restarting_until = self.clock.monotonic() + self.settings.restart_s
        self._restart_due, self._draining = True, False
        self._wake.clear()
        current, self._current = self._current, None
        # The message being forwarded, once sent, may be at the PAS already: named apart.
        sent = current if current is not None and current.attempts else None
        gone = self.queue.lose_all()
        self.restarts.append({"at": self.clock.now().isoformat(), "reason": reason, "queue": self.queue.mode,
                              "lost": [_named(i) for i in gone if i is not sent],
                              "in_flight": [_named(i) for i in gone if i is sent]})
        log.warning("engine restarting", reason=reason, lost=len(gone), queue=self.queue.mode)
        self._spawn()

    async def _sit_out_restart(self) -> None:
        left = (self.restarting_until or 0) - self.clock.monotonic()
        try:
            await self.clock.sleep(left)
        finally:
            self.restarting_until = None
            self.spine_failures = 0


def _named(item: Item) -> dict:
    return {"ubrn": item.ubrn, "event": item.event, "bundle_id": item.bundle.get("id"),
            "control_id": item.control_id}
