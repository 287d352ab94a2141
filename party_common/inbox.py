"""A `$process-message` inbox with FHIR reliable-messaging dedupe.

A repeat of a Bundle.id (or MessageHeader.id) already processed gets the stored response and
changes nothing. The dedupe lookup, the handler's effects and the record of the answer share one
write transaction (`Database.writing()`: one writer at a time on SQLite), so a crash can never leave
a message's effects without its record, or the reverse. The answer comes back encoded, so a repeat
is served from the stored text without decoding and encoding it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import orjson
import structlog
from sqlalchemy import DateTime, Integer, String, Text, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from party_common.responses import response_bundle
from party_common.clock import party_clock
from party_common.database import Database, table_of
from party_common.messaging import Message, Org, read_message
from party_common.outcome import FhirError

log = structlog.get_logger("inbox")

# A handler applies a message in the given session (not committed) and returns the resources the
# `ok` response carries, focus first.
Handler = Callable[[AsyncSession, Message], Awaitable[list[dict]]]


def reused_id(msg: Message) -> FhirError:
    """A correction sent under the id of a message already processed: refused, never answered with
    the stale answer of the first, so the sender knows its change was not applied."""
    return FhirError(409, "duplicate", f"Bundle.id {msg.bundle_id} (or MessageHeader.id {msg.header_id}) was "
                     "already used for a different message; send a changed message under a new id",
                     ["Bundle.id"], bars_code="REC_CONFLICT")


class ProcessedMessageMixin:
    bundle_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    header_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    event: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    # What the message said (Message.content_digest): the same id with other content is not a repeat.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Inbox:
    def __init__(self, db: Database, record_model: type, handlers: dict[str, Handler], *,
                 responder: Org, dedupe: bool = True):
        self.db = db
        self.record_model = record_model
        self.handlers = handlers
        self.responder = responder
        self.dedupe = dedupe
        # Built once, run per message, on the table rather than the mapped class so they stay Core
        # statements; a NULL header id matches nothing, as no header id should.
        records = table_of(self.record_model)
        self._lookup = select(records.c.status_code, records.c.response, records.c.digest).where(
            or_(records.c.bundle_id == bindparam("bundle_id"), records.c.header_id == bindparam("header_id"))
        ).limit(1)
        self._insert_record = records.insert()

    async def _stored(self, session: AsyncSession, msg: Message):
        """The stored answer (a row with status_code and response) to this message, if any."""
        params = {"bundle_id": msg.bundle_id, "header_id": msg.header_id}
        return (await session.execute(self._lookup, params)).first()

    def _record_values(self, msg: Message, status: int, response: str) -> dict:
        return {"bundle_id": msg.bundle_id, "header_id": msg.header_id, "event": msg.event,
                "status_code": status, "response": response, "digest": msg.content_digest(),
                "received_at": party_clock().now()}

    async def process(self, bundle: dict | Message) -> tuple[int, dict]:
        status, encoded = await self.process_encoded(bundle)
        return status, orjson.loads(encoded)

    async def process_encoded(self, bundle: dict | Message) -> tuple[int, bytes]:
        """Returns (HTTP status, JSON body) for a validated message Bundle, or one read already
        (`read_message_body`, which takes a large message's digest off the loop)."""
        msg = bundle if isinstance(bundle, Message) else read_message(bundle)
        handler = self.handlers.get(msg.event)
        if handler is None:
            raise FhirError(422, "not-supported", f"event {msg.event!r} is not handled here",
                            ["Bundle.entry[0].resource.eventCoding.code"])
        try:
            async with self.db.writing() as session:
                if self.dedupe:
                    stored = await self._stored(session, msg)
                    if stored is not None:
                        return self._repeat(msg, stored)
                try:
                    resources = await handler(session, msg)
                except FhirError as exc:
                    if exc.status >= 500 or not self.dedupe:
                        raise
                    # A refusal is part of the message's history: a repeat must get the same answer.
                    await session.rollback()
                    await self._remember(session, msg, exc.status, exc.outcome())
                    raise
                answer = response_bundle(msg, "ok", resources, responder=self.responder)
                encoded = orjson.dumps(answer)
                if self.dedupe:
                    await session.execute(self._insert_record, self._record_values(msg, 200, encoded.decode()))
                return 200, encoded
        except IntegrityError:
            if not self.dedupe:
                raise
            # The same message raced in twice; the one that committed first owns the answer.
            async with self.db.session() as session:
                stored = await self._stored(session, msg)
            if stored is None:
                raise
            return self._repeat(msg, stored)

    def _repeat(self, msg: Message, stored) -> tuple[int, bytes]:
        """The stored answer to a message seen before, unless its id now carries something else."""
        if stored.digest and stored.digest != msg.content_digest():
            raise reused_id(msg)
        log.info("duplicate message answered from store", bundle_id=msg.bundle_id)
        return stored.status_code, stored.response.encode()

    async def _remember(self, session: AsyncSession, msg: Message, status: int, body: dict) -> None:
        try:
            values = self._record_values(msg, status, orjson.dumps(body).decode())
            await session.execute(self._insert_record, values)
            await session.commit()
        except IntegrityError:
            # Raced by the same message: the answer stored first stands.
            await session.rollback()
