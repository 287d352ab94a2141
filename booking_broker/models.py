from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"
