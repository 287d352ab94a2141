"""One v2 exchange with the legacy PAS over MLLP (the `hl7.mllp` streams do the framing), as a transfer
the courier carries (party_common/links/courier.py): connect, send, wait for the answer to this control
id for `ack_timeout_s` on the party's clock.

What the sender experiences becomes a Delivery: `AA` delivered, `AE`/`AR` rejected (the PAS
understood and refused, or could not process: sending it again changes nothing), no connection
unreachable, a connection closed without an answer failed, no answer in time timeout.

The exchange is a call to another party, counted as the HTTP calls are (docs/clock.md): the connect
is the sender's own work, the message sent when written, its answer received when read or given up on (the legacy PAS counts each message received
and answered on its clock, as a party counts HTTP calls); while the worker waits it is not this party's
work, and the wait for the ACK is a sleep on the clock, so on a virtual clock the timeout fires when
the harness moves time past it and never because the machine was slow.
"""

from __future__ import annotations

import asyncio
import contextlib

import hl7
from hl7.mllp import InvalidBlockError, open_hl7_connection

from party_common.clock import Clock
from party_common.links.outcomes import DELIVERED, FAILED, REJECTED, TIMEOUT, UNREACHABLE, Delivery
from party_common.reaping import reap

from middleware.v2 import Answer, read_answer

# An SQR listing many slots is larger than asyncio's default 64 KiB stream limit.
READ_LIMIT = 8 * 1024 * 1024


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


async def _answer_to(reader, control_id: str) -> Answer:
    """The first answer whose MSA-2 is `control_id` (a late answer to an earlier message is skipped)."""
    while True:
        answer = read_answer(await reader.readmessage())
        if answer.control_id == control_id:
            return answer


async def exchange(address: str, er7: str, control_id: str, clock: Clock, timeout_s: float, *,
                   link: str, event: str, cut: bool = False) -> Delivery:
    """Sends one message and waits for its answer. `cut` sends the first half only (a `corrupt` fault)."""
    started = clock.monotonic()

    def done(outcome: str, answer: Answer | None = None) -> Delivery:
        latency = round((clock.monotonic() - started) * 1000, 3)
        body = None if answer is None else {"ack": answer.code, "control_id": answer.control_id,
                                            "error": answer.error, "message": answer.message}
        return Delivery(link, event, outcome, None, body, latency, delivered=outcome == DELIVERED)

    host, port = split_address(address)
    try:
        # The connect is this party's own work, not a call yet: nothing is counted on the wire until
        # the message is written, so waiting here as on another party let the harness move time
        # between the connect and the write (the PAS then took the message at a later time than it
        # was sent, and its ACK came after the sender's timeout).
        reader, writer = await open_hl7_connection(host, port, limit=READ_LIMIT)
    except OSError:
        return done(UNREACHABLE)
    reading: asyncio.Task | None = None
    timer: asyncio.Task | None = None
    try:
        data = er7.encode()
        writer.writeblock(data[: max(1, len(data) // 2)] if cut else data)
        await writer.drain()
        clock.calls_sent += 1
        reading = asyncio.ensure_future(_answer_to(reader, control_id))
        timer = asyncio.ensure_future(clock.sleep(timeout_s))
        with clock.calling_out():
            await asyncio.wait({reading, timer}, return_when=asyncio.FIRST_COMPLETED)
        if not reading.done():
            return done(TIMEOUT)
        try:
            answer = reading.result()
        except (asyncio.IncompleteReadError, ConnectionError, InvalidBlockError, ValueError,
                hl7.ParseException):
            return done(FAILED)
        return done(DELIVERED if answer.code in ("AA", "CA") else REJECTED, answer)
    except OSError:
        return done(FAILED)
    finally:
        if reading is not None:
            # Read, or given up on: the legacy PAS answers every block, so an answer given up on is
            # one it wrote (or will write) that nobody will read, and the harness must not wait for it.
            clock.answers_received += 1
        try:
            # The answer given up on, whatever became of its reading.
            await reap(*(t for t in (reading, timer) if t is not None and not t.done()), errors=False)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
