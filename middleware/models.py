"""Tables of the middleware: its journal, the messages its inbox processed and its persistent queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin
from party_common.links.journal import JournalEntryMixin


class Base(DeclarativeBase):
    pass


class JournalEntry(JournalEntryMixin, Base):
    pass


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"
    # Each trust it stands for is its own receiver: one Bundle.id sent to two trusts is two messages.
    ods: Mapped[str] = mapped_column(String(16), primary_key=True, default="")


class QueuedMessage(Base):
    """A v2 message waiting to be forwarded (persistent mode; memory mode keeps the same fields in memory).

    A row stays `pending` until the PAS answers it (`acked`, `refused`) or its resends run out
    (`undelivered`), so an engine that restarts sends again what was not answered, under the same
    control id.
    """

    __tablename__ = "queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ods: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    ubrn: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nhs_number: Mapped[str] = mapped_column(String(16))
    control_id: Mapped[str] = mapped_column(String(20))
    er7: Mapped[str] = mapped_column(Text)
    bundle: Mapped[str] = mapped_column(Text)   # the BaRS message it came as (the journal's ids)
    # The slot a queued booking takes: held (not offered, not booked again) until the PAS answers.
    slot_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
