"""Tables of the legacy PAS: its appointment book, the slots booked, the referrals it was sent, and
the messages it has answered (by control id, so a resend gets the first answer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ProcessedMessage(Base):
    """A message the PAS acted on and the ACK it answered, kept so a resend of the same `MSH-10`
    gets the same ACK and changes nothing. Each trust is its own receiver."""

    __tablename__ = "processed_messages"

    ods: Mapped[str] = mapped_column(String(16), primary_key=True)
    control_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(16))
    ack: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BookedSlot(Base):
    """A slot an appointment holds. Slots are generated from the clinic templates; only the booked
    ones are stored, and a slot is held by one appointment at most (its primary key)."""

    __tablename__ = "booked_slots"
    __table_args__ = (Index("ix_booked_slots_service_start", "service_id", "start_minute"),)

    slot_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    ods: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(64))
    # Minutes since the Unix epoch (UTC), as the schedule numbers them.
    start_minute: Mapped[int] = mapped_column(Integer)
    filler_id: Mapped[str] = mapped_column(String(32))
    ubrn: Mapped[str] = mapped_column(String(64))


class Appointment(Base):
    """A row of the appointment book, as the flat extract gives it."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_ods_ubrn", "ods", "ubrn"),
        Index("ix_appointments_created", "created_at", "filler_id"),
    )

    # The id the PAS gave the appointment (SCH-2 of a booking is left empty for it).
    filler_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ods: Mapped[str] = mapped_column(String(16))
    # The placer's id (SCH-1): the UBRN.
    ubrn: Mapped[str] = mapped_column(String(64))
    nhs_number: Mapped[str] = mapped_column(String(16))
    family: Mapped[str | None] = mapped_column(String(64), nullable=True)
    given: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[str] = mapped_column(String(96))
    start: Mapped[str] = mapped_column(String(32))
    end: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    # The MSH-10 of the booking, to trace a row back to its message.
    control_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Referral(Base):
    """A referral (REF^I12) the trust was sent, one row per referral id."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_ods_referral", "ods", "referral_id", unique=True),
                      Index("ix_referrals_created", "created_at", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ods: Mapped[str] = mapped_column(String(16))
    referral_id: Mapped[str] = mapped_column(String(64))
    nhs_number: Mapped[str] = mapped_column(String(16))
    practice_ods: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    control_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
