"""Tables of the GP system: registered patients, referrals, the practices' view of their bookings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from party_common.inbox import ProcessedMessageMixin


class Base(DeclarativeBase):
    pass


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"


class RegisteredPatient(Base):
    __tablename__ = "registered_patients"

    nhs_number: Mapped[str] = mapped_column(String(10), primary_key=True)
    gp_ods: Mapped[str] = mapped_column(String(16))
    family: Mapped[str] = mapped_column(String(64))
    given: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(16))
    birth_date: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_registered_patients_practice", "gp_ods", "nhs_number"),)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gp_ods: Mapped[str] = mapped_column(String(16))
    nhs_number: Mapped[str] = mapped_column(String(10))
    specialty: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The ServiceRequest as answered, so a read gives back exactly what the create returned.
    resource: Mapped[str] = mapped_column(Text)
    # Sent as a BaRS referral ($refer): to which service, and what the trust said (sent, accepted, rejected).
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trust_ods: Mapped[str | None] = mapped_column(String(16), nullable=True)
    referral_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    refer_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # A practice's referrals in the order its search lists them, so a page is read, not sorted.
    __table_args__ = (Index("ix_referrals_practice_created", "gp_ods", "created_at", "id"),)


# Local booking states; the Appointment status shown to the practice is derived in views.py.
REQUESTED = "requested"
BOOKED = "booked"
FAILED = "failed"
CANCEL_REQUESTED = "cancel-requested"
CANCELLED = "cancelled"
ENDED = (FAILED, CANCELLED)


class Booking(Base):
    __tablename__ = "bookings"

    # An insertion counter gives listings a stable order that survives equal timestamps.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    gp_ods: Mapped[str] = mapped_column(String(16))
    ubrn: Mapped[str | None] = mapped_column(String(32), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Holds referral_id while the booking is live (NULL once failed or cancelled): the unique
    # constraint lets a referral have one live booking at most, even under concurrent $book calls.
    active_referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    nhs_number: Mapped[str] = mapped_column(String(10))
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str] = mapped_column(String(128))
    slot_id: Mapped[str] = mapped_column(String(160))
    start: Mapped[str | None] = mapped_column(String(40), nullable=True)
    end: Mapped[str | None] = mapped_column(String(40), nullable=True)
    trust_ods: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    # What to go back to when the broker refuses a cancellation.
    pre_cancel_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Ids of the messages sent, kept so a retry resends the same message (the broker dedupes on
    # them) and so a confirmation is matched by its response.identifier before the UBRN is known.
    request_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    request_header_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancel_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    cancel_header_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_response_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("gp_ods", "ubrn", name="uq_bookings_practice_ubrn"),
        Index("ix_bookings_practice_seq", "gp_ods", "seq"),
    )
