from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin
from party_common.links.journal import JournalEntryMixin


class Base(DeclarativeBase):
    pass


class LedgerEntry(Base):
    """The broker's own record of a booking: what it believes was booked, whatever the others hold."""

    __tablename__ = "ledger"

    ubrn: Mapped[str] = mapped_column(String(12), primary_key=True)
    nhs_number: Mapped[str] = mapped_column(String(10), index=True)
    gp_ods: Mapped[str] = mapped_column(String(16))
    trust_ods: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[str] = mapped_column(String(96))
    start: Mapped[str | None] = mapped_column(String(40), nullable=True)
    end: Mapped[str | None] = mapped_column(String(40), nullable=True)
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    request_bundle_id: Mapped[str] = mapped_column(String(64))
    cancel_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set when a repair moved the booking to another slot (booking_broker/rebooking.py): the messages
    # announcing the new slot take their ids from it, so each is new to its receiver, yet the same
    # message every time it is sent again.
    rebook_origin: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralEntry(Base):
    """The broker's record of a referral it routed (BaRS servicerequest-request), by referral id."""

    __tablename__ = "referral_ledger"

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nhs_number: Mapped[str] = mapped_column(String(10))
    gp_ods: Mapped[str] = mapped_column(String(16))
    trust_ods: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(64))
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sent: passed on to the trust; accepted / rejected: what the trust answered.
    status: Mapped[str] = mapped_column(String(16))
    request_bundle_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"


class JournalEntry(JournalEntryMixin, Base):
    pass


class OutboxMessage(Base):
    """A message the broker owes a party; written in the same transaction as the ledger change."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The booking's UBRN, or `referral:<id>` for a referral's messages: what orders them.
    ubrn: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # pas | gp | spine | referral | referral-gp
    link: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)   # pending | delivered | rejected
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
