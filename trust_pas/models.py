"""Tables of the trust PAS: claimed slots, appointments and the message inbox record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin


class Base(DeclarativeBase):
    pass


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"
    # Each hosted trust is its own receiver: one Bundle.id sent to two trusts is two messages.
    ods: Mapped[str] = mapped_column(String(16), primary_key=True, default="")


class SlotClaim(Base):
    """A booked slot. Slots themselves are generated from templates; only claims are stored."""

    __tablename__ = "slot_claims"
    __table_args__ = (Index("ix_slot_claims_service_start", "service_id", "start_minute"),)

    slot_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    ods: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(64))
    # Minutes since the Unix epoch (UTC): what slot searches compare, cheap to index and decode.
    start_minute: Mapped[int] = mapped_column(Integer)
    # The booking's key: its UBRN, or `bundle:<Bundle.id>` for a booking that came without one.
    ubrn: Mapped[str] = mapped_column(String(64), index=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_ods_ubrn", "ods", "ubrn"),
        Index("ix_appointments_ods_created", "ods", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ods: Mapped[str] = mapped_column(String(16))
    # None for a booking sent straight to this PAS without one (its Bundle.id keys its slot claim).
    ubrn: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nhs_number: Mapped[str] = mapped_column(String(16))
    gp_ods: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[str] = mapped_column(String(96))
    start: Mapped[str] = mapped_column(String(32))
    end: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Referral(Base):
    """A referral (BaRS servicerequest-request) the trust received, by the practice's referral id."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_ods_created", "ods", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ods: Mapped[str] = mapped_column(String(16))
    referral_id: Mapped[str] = mapped_column(String(64), index=True)
    nhs_number: Mapped[str] = mapped_column(String(16))
    gp_ods: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str] = mapped_column(String(64))
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    bundle_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
