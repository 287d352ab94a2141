"""Rows as FHIR resources."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import ColumnElement, case

from party_common.booking import BookingFacts, appointment_resource
from party_common.identifiers import DOS_SYSTEM, NHS_NUMBER_SYSTEM, ODS_SYSTEM, dos_id
from party_common.referral import REFERRAL_STATE_EXT, ReferralFacts, service_request_resource

from gp_system.dependencies import PRACTICE_NAMES
from gp_system.models import BOOKED, CANCEL_REQUESTED, CANCELLED, FAILED, REQUESTED, Booking, Referral, RegisteredPatient

# Appointment.status has no "asked but not answered" or "failed": proposed and entered-in-error
# are the nearest the practice's view can say.
_SHOWN_STATUS = {REQUESTED: "proposed", BOOKED: "booked", CANCELLED: "cancelled", FAILED: "entered-in-error"}


def shown_status(row: Booking | SimpleNamespace) -> str:
    if row.status == CANCEL_REQUESTED:
        # Still the booking it was until the broker confirms the cancellation.
        return _SHOWN_STATUS.get(row.pre_cancel_status or BOOKED, "booked")
    return _SHOWN_STATUS.get(row.status, "proposed")


def shown_status_column() -> ColumnElement:
    """`shown_status` computed by the database, so a status search is counted and paged there."""
    before_cancel = case(*((Booking.pre_cancel_status == local, shown) for local, shown in _SHOWN_STATUS.items()),
                         else_="booked")
    return case((Booking.status == CANCEL_REQUESTED, before_cancel),
                *((Booking.status == local, shown) for local, shown in _SHOWN_STATUS.items()),
                else_="proposed")


def booking_facts(row: Booking | SimpleNamespace, status: str | None = None) -> BookingFacts:
    return BookingFacts(
        ubrn=row.ubrn, nhs_number=row.nhs_number, trust_ods=row.trust_ods, gp_ods=row.gp_ods,
        service_id=row.service_id, slot_id=row.slot_id, start=row.start, end=row.end,
        status=status or shown_status(row), specialty=row.specialty, appointment_id=row.id,
        referral_id=row.referral_id,
    )


def appointment(row: Booking | SimpleNamespace) -> dict:
    """A booking's Appointment, from its row or from the values a Core statement wrote (as a namespace)."""
    return appointment_resource(booking_facts(row))


def organization(ods: str) -> dict:
    return {
        "resourceType": "Organization",
        "id": ods,
        "identifier": [{"system": ODS_SYSTEM, "value": ods}, {"system": DOS_SYSTEM, "value": dos_id("practice", ods)}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}],
                  "text": "GP practice"}],
        "name": PRACTICE_NAMES[ods],
    }


def patient(row: RegisteredPatient) -> dict:
    return {
        "resourceType": "Patient",
        "id": row.nhs_number,
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": row.nhs_number}],
        "name": [{"use": "official", "family": row.family, "given": [row.given]}],
        "gender": row.gender,
        "birthDate": row.birth_date.isoformat(),
        "generalPractitioner": [{"type": "Organization",
                                 "identifier": {"system": ODS_SYSTEM, "value": row.gp_ods}}],
    }


def referral_facts(row: Referral) -> ReferralFacts:
    return ReferralFacts(referral_id=row.id, nhs_number=row.nhs_number, gp_ods=row.gp_ods, service_id=row.service_id,
                         trust_ods=row.trust_ods, specialty=row.specialty)


def referral_view(row: Referral) -> dict:
    """A referral sent through the broker, with what the trust said of it (extension `referral-state`)."""
    sr = service_request_resource(referral_facts(row), resource_id=row.id)
    sr["extension"] = [{"url": REFERRAL_STATE_EXT, "valueCode": row.referral_state}]
    return sr
