"""A `$process-message` inbox with FHIR reliable-messaging dedupe.

A repeat of a Bundle.id (or MessageHeader.id) already processed gets the stored response and
changes nothing. The record of a message is written in the same transaction as its effects, so a
crash can never leave one without the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import orjson
import structlog
from sqlalchemy import DateTime, Integer, String, Text, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .database import Database
from .messaging import Message, read_message, response_bundle
from .outcome import FhirError

log = structlog.get_logger("inbox")

# A handler applies a message in the given session (not committed) and returns the resources the
# `ok` response carries, focus first.
Handler = Callable[[AsyncSession, Message], Awaitable[list[dict]]]


class ProcessedMessageMixin:
    bundle_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    header_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    event: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Inbox:
    def __init__(self, db: Database, record_model: type, handlers: dict[str, Handler], *,
                 source_endpoint: str, dedupe: bool = True):
        self.db = db
        self.record_model = record_model
        self.handlers = handlers
        self.source_endpoint = source_endpoint
        self.dedupe = dedupe

    async def _stored(self, session: AsyncSession, msg: Message):
        model = self.record_model
        clauses = [model.bundle_id == msg.bundle_id]
        if msg.header_id:
            clauses.append(model.header_id == msg.header_id)
        return (await session.execute(select(model).where(or_(*clauses)).limit(1))).scalar_one_or_none()

    def _record(self, msg: Message, status: int, body: dict):
        return self.record_model(
            bundle_id=msg.bundle_id, header_id=msg.header_id, event=msg.event, status_code=status,
            response=orjson.dumps(body).decode(), received_at=datetime.now(timezone.utc),
        )

    async def process(self, bundle: dict) -> tuple[int, dict]:
        """Returns (HTTP status, body) for a validated message Bundle."""
        msg = read_message(bundle)
        handler = self.handlers.get(msg.event)
        if handler is None:
            raise FhirError(422, "not-supported", f"event {msg.event!r} is not handled here",
                            ["Bundle.entry[0].resource.eventCoding.code"])
        if self.dedupe:
            async with self.db.session() as session:
                stored = await self._stored(session, msg)
                if stored is not None:
                    log.info("duplicate message answered from store", bundle_id=msg.bundle_id)
                    return stored.status_code, orjson.loads(stored.response)
        try:
            async with self.db.session() as session:
                resources = await handler(session, msg)
                body = response_bundle(msg, "ok", resources, source_endpoint=self.source_endpoint)
                if self.dedupe:
                    session.add(self._record(msg, 200, body))
                await session.commit()
                return 200, body
        except FhirError as exc:
            if exc.status >= 500 or not self.dedupe:
                raise
            # A refusal is part of the message's history: a repeat must get the same answer.
            await self._store_refusal(msg, exc)
            raise
        except IntegrityError:
            if not self.dedupe:
                raise
            # The same message raced in twice; the one that committed first owns the answer.
            async with self.db.session() as session:
                stored = await self._stored(session, msg)
            if stored is None:
                raise
            return stored.status_code, orjson.loads(stored.response)

    async def _store_refusal(self, msg: Message, exc: FhirError) -> None:
        try:
            async with self.db.session() as session:
                session.add(self._record(msg, exc.status, exc.outcome()))
                await session.commit()
        except IntegrityError:
            pass
