"""The spine's tables: demographics, UBRN allocations, the national booking index, the inbox."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patients"

    nhs_number: Mapped[str] = mapped_column(String(10), primary_key=True)
    family: Mapped[str] = mapped_column(String(100))
    given: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(16))
    birth_date: Mapped[date] = mapped_column(Date)
    gp_ods: Mapped[str] = mapped_column(String(16))


class UbrnAllocation(Base):
    __tablename__ = "ubrn_allocations"
    # Without AUTOINCREMENT SQLite may reuse the highest rowid after a delete, and so a UBRN.
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Null only inside the allocating transaction: the value derives from the sequence just drawn.
    ubrn: Mapped[str | None] = mapped_column(String(12), unique=True, nullable=True)
    nhs_number: Mapped[str] = mapped_column(String(10))
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BookingIndexEntry(Base):
    __tablename__ = "booking_index"

    ubrn: Mapped[str] = mapped_column(String(12), primary_key=True)
    # Unbounded text: these come from other parties' messages, and an over-long value must not turn
    # into a database error (a 500) on PostgreSQL.
    nhs_number: Mapped[str] = mapped_column(String)
    trust_ods: Mapped[str | None] = mapped_column(String, nullable=True)
    gp_ods: Mapped[str | None] = mapped_column(String, nullable=True)
    service_id: Mapped[str] = mapped_column(String)
    slot_id: Mapped[str] = mapped_column(String)
    # Kept as the text the message carried, so reconciliation compares exactly what was sent.
    start: Mapped[str | None] = mapped_column(String, nullable=True)
    end: Mapped[str | None] = mapped_column(String, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str | None] = mapped_column(String, nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"
