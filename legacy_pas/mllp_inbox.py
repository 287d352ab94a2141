"""The legacy PAS's inbox: one MLLP listener per trust, answering every message it reads.

Framing is the `hl7` library's (`hl7.mllp.start_hl7_server`); each block is parsed with `hl7.parse`.
Whatever arrives gets an answer and the connection stays open: a block that is not MLLP, not UTF-8,
not HL7, of another version or of a type the PAS does not take is answered `AR`; only the peer
closing the connection ends it.

A message that changes the book is handled in one write transaction with the record of its answer
(`processed_messages`, by trust and `MSH-10`), so a resend of the same control id gets the first ACK
back, byte for byte, and changes nothing. A booking (SIU) is answered LEGACY_PAS_ACK_DELAY_MS after it
was done, on the party's clock.

Each message counts on the party's clock as a call received, and as answered once its answer is
written; while it is handled the PAS is busy, unless asleep on the clock (docs/clock.md).
"""

from __future__ import annotations

import asyncio

import hl7
import structlog
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server
from sqlalchemy.exc import IntegrityError

from party_common.clock import Clock, this_task, using_clock
from party_common.database import Database
from party_common.trusts.catalogue import Trust

from legacy_pas.booking_flow import Kind
from legacy_pas.models import ProcessedMessage
from legacy_pas.v2 import (
    APPLICATION_INTERNAL_ERROR, DATA_TYPE_ERROR, ENCODING_CHARACTERS, PROCESSING_ID, REQUIRED_FIELD_MISSING,
    UNSUPPORTED_EVENT_CODE, UNSUPPORTED_MESSAGE_TYPE, UNSUPPORTED_PROCESSING_ID, UNSUPPORTED_VERSION_ID, VERSION,
    Fields, Header, Reply, V2Error, answer, error_reply, rejected,
)

log = structlog.get_logger("mllp")

# Tries of a message's transaction when a concurrent writer took its key first (PostgreSQL; SQLite
# writes one at a time): the next try sees what the other wrote.
_TRIES = 3
MAX_CONTROL_ID = 64


def read_header(f: Fields, header: Header, kinds: dict[tuple[str, str], Kind]) -> Kind:
    """Fills `header` from MSH as far as it can be read (so even a rejection echoes the control id)
    and returns the message's kind; AR naming the field for anything the profile does not allow."""
    header.sending_application = f.get("MSH", 3)[:64]
    header.sending_facility = f.get("MSH", 4)[:64]
    header.trigger = f.get("MSH", 9, 2)[:8]
    header.control_id = f.get("MSH", 10).strip()[:MAX_CONTROL_ID]
    if f.get("MSH", 1) != "|" or f.get("MSH", 2) != ENCODING_CHARACTERS:
        raise rejected(DATA_TYPE_ERROR, f"MSH-1 and MSH-2 must be | and {ENCODING_CHARACTERS}", ("MSH", 2))
    if not header.control_id:
        raise rejected(REQUIRED_FIELD_MISSING, "MSH-10 (message control id) is required", ("MSH", 10))
    version = f.get("MSH", 12)
    if version != VERSION:
        raise rejected(UNSUPPORTED_VERSION_ID, f"MSH-12 version {version[:10]!r} is not {VERSION}", ("MSH", 12))
    processing = f.get("MSH", 11)
    if processing != PROCESSING_ID:
        raise rejected(UNSUPPORTED_PROCESSING_ID, f"MSH-11 processing id {processing[:10]!r} is not "
                       f"{PROCESSING_ID}", ("MSH", 11))
    header.message_type = f.get("MSH", 9)[:8]
    kind = kinds.get((header.message_type, header.trigger))
    if kind is None:
        known = {t for t, _ in kinds}
        code = UNSUPPORTED_EVENT_CODE if header.message_type in known else UNSUPPORTED_MESSAGE_TYPE
        taken = ", ".join(f"{t} {e}" for t, e in kinds)
        raise rejected(code, f"MSH-9 {header.message_type} {header.trigger} is not taken here (only {taken})",
                       ("MSH", 9))
    return kind


class MllpInbox:
    """One trust's listener: reads messages off each connection and answers them in turn."""

    def __init__(self, trust: Trust, db: Database, clock: Clock, kinds: dict[tuple[str, str], Kind],
                 ack_delay_s: float):
        self.trust = trust
        self.db = db
        self.clock = clock
        self.kinds = kinds
        self.ack_delay_s = ack_delay_s
        self._connections: dict[asyncio.Task, HL7StreamWriter] = {}

    async def serve(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        """One connection, until the peer closes it (or the PAS stops)."""
        task = this_task()
        self._connections[task] = writer
        try:
            while True:
                try:
                    block: bytes | None = await reader.readblock()
                    problem = ""
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        # A block begun and never ended (a sender that gave up mid-message, a
                        # `corrupt` fault): counted received and answered, as its sender counted it
                        # sent and its answer given up on, so the harness does not wait for it.
                        self.clock.calls_received += 1
                        self.clock.calls_answered += 1
                    return
                except ConnectionError:
                    return
                except InvalidBlockError:
                    block, problem = None, "the block does not begin with MLLP's start byte"
                except ValueError:  # longer than the reader's limit
                    block, problem = None, "the block is longer than this PAS reads"
                self.clock.calls_received += 1
                try:
                    with using_clock(self.clock), self.clock.working():
                        text, delay_s = await self.answer(block, problem)
                        if delay_s > 0:
                            await self.clock.sleep(delay_s)
                    # The answer is ER7 text this module wrote (ASCII), framed by the library as is.
                    writer.writeblock(text.encode("ascii"))
                    await writer.drain()
                except ConnectionError:
                    return
                finally:
                    # In the same step as the work ends: the answer is on its way to the caller.
                    self.clock.calls_answered += 1
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def answer(self, block: bytes | None, problem: str = "") -> tuple[str, float]:
        """The ER7 answer to one block and how long to wait before sending it; never raises."""
        header = Header()
        try:
            if block is None:
                raise rejected(DATA_TYPE_ERROR, problem)
            try:
                message = hl7.parse(block.decode("utf-8"))
            except UnicodeDecodeError:
                raise rejected(DATA_TYPE_ERROR, "the message is not UTF-8") from None
            except Exception as exc:  # hl7.parse raises anything on text that is not HL7
                raise rejected(DATA_TYPE_ERROR, f"not an HL7 v2 message ({type(exc).__name__})") from None
            fields = Fields(message)
            kind = read_header(fields, header, self.kinds)
            if kind.writes:
                text = await self._once(kind, fields, header)
            else:
                async with self.db.session() as session:
                    text = self._render(header, await kind.handler(session, fields, header))
            return text, self.ack_delay_s if kind.booking else 0.0
        except V2Error as error:
            log.info("v2 message not processed", ods=self.trust.ods, control_id=header.control_id,
                     ack=error.ack_code, error=error.text)
            return self._render(header, error_reply(error), error), 0.0
        except Exception as exc:  # a bug or a database gone: answered, never a dropped connection
            log.error("v2 message failed", ods=self.trust.ods, control_id=header.control_id, exc_info=exc)
            failed = rejected(APPLICATION_INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
            return self._render(header, error_reply(failed), failed), 0.0

    async def _once(self, kind: Kind, fields: Fields, header: Header) -> str:
        """Handles a message that changes the book, unless its control id was handled before, in
        one transaction with the record of its answer; returns the answer (the first one, for a repeat)."""
        for attempt in range(_TRIES):
            try:
                async with self.db.writing() as session:
                    held = await session.get(ProcessedMessage, (self.trust.ods, header.control_id))
                    if held is not None:
                        return held.ack
                    try:
                        text = self._render(header, await kind.handler(session, fields, header))
                    except V2Error as error:
                        if error.ack_code != "AE":
                            raise  # not processed, so not kept: a corrected resend may pass
                        await session.rollback()
                        text = self._render(header, error_reply(error), error)
                    session.add(ProcessedMessage(ods=self.trust.ods, control_id=header.control_id,
                                                 message_type=f"{header.message_type}^{header.trigger}",
                                                 ack=text, received_at=self.clock.now()))
                return text
            except IntegrityError:
                if attempt == _TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _render(self, header: Header, reply: Reply, error: V2Error | None = None) -> str:
        return answer(header, self.trust.ods, hl7.generate_message_control_id(), self.clock.now(), reply, error)

    async def close(self) -> None:
        """Ends every open connection (their tasks are the library's, so cancelled here)."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class MllpListeners:
    """The trusts' MLLP servers: opened in the app's lifespan, closed at its end."""

    def __init__(self, inboxes: dict[str, MllpInbox]):
        self.inboxes = inboxes
        self.servers: dict[str, asyncio.Server] = {}

    async def open(self, host: str, ports: dict[str, int]) -> None:
        for ods, inbox in self.inboxes.items():
            try:
                self.servers[ods] = await start_hl7_server(inbox.serve, host, ports[ods], encoding="utf-8")
            except OSError as exc:
                await self.close()
                raise RuntimeError(f"the legacy PAS cannot listen for {ods} on {host}:{ports[ods]}: {exc}") from exc

    @property
    def ports(self) -> dict[str, int]:
        """The port each trust listens on (the one the system chose, for port 0)."""
        return {ods: server.sockets[0].getsockname()[1] for ods, server in self.servers.items()}

    async def close(self) -> None:
        for server in self.servers.values():
            server.close()
        for inbox in self.inboxes.values():
            await inbox.close()
        for server in self.servers.values():
            await server.wait_closed()
        self.servers = {}
