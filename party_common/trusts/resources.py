"""FHIR renderings of the catalogue, the generated slots and the stored appointments."""

from __future__ import annotations

from typing import Any

from party_common.booking import BookingFacts, appointment_resource, service_dos
from party_common.identifiers import DOS_SYSTEM, ODS_SITE_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM, dos_id
from party_common.trust_catalogue import DAY_CODES

from party_common.trusts.catalogue import Service, Site, Trust
from party_common.trusts.schedule import MINUTES_PER_DAY, minute_to_iso


def _ods_reference(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "type": "Organization",
            "identifier": {"system": ODS_SYSTEM, "value": ods}}


def organization(trust: Trust) -> dict:
    org = {
        "resourceType": "Organization",
        "id": trust.ods,
        "identifier": [{"system": ODS_SYSTEM, "value": trust.ods},
                       {"system": DOS_SYSTEM, "value": dos_id("trust", trust.ods)}],
        "active": True,
        "type": [{"text": f"NHS trust ({trust.size}, {len(trust.sites)} site{'s' if len(trust.sites) > 1 else ''})"}],
        "name": trust.name,
    }
    if trust.alias:
        org["alias"] = list(trust.alias)
    return org


def location(site: Site) -> dict:
    return {
        "resourceType": "Location",
        "id": site.code,
        "identifier": [{"system": ODS_SITE_SYSTEM, "value": site.code}],
        "status": "active",
        "name": site.name,
        "managingOrganization": _ods_reference(site.trust_ods),
    }


def specialty_concept(service: Service) -> dict:
    return {"coding": [{"system": SPECIALTY_SYSTEM, "code": service.specialty,
                        "display": service.specialty_display}]}


def _hhmmss(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}:00"


def healthcare_service(service: Service) -> dict:
    available = []
    for s in service.template.sessions:
        start, end = s.start.split(":"), s.end.split(":")
        available.append({
            "daysOfWeek": [DAY_CODES[d] for d in s.days],
            "availableStartTime": _hhmmss(int(start[0]) * 60 + int(start[1])),
            "availableEndTime": _hhmmss(min(int(end[0]) * 60 + int(end[1]), MINUTES_PER_DAY - 1)),
        })
    return {
        "resourceType": "HealthcareService",
        "id": service.id,
        # BaRS addresses a service by its DoS id (MessageHeader.destination, NHSD-Target-Identifier).
        "identifier": [{"system": DOS_SYSTEM, "value": service_dos(service.id)}],
        "active": True,
        "providedBy": _ods_reference(service.trust_ods),
        "type": [specialty_concept(service)],
        "location": [{"reference": f"Location/{service.site.code}", "display": service.site.name}],
        "name": service.name,
        "availableTime": available,
    }


def schedule(service: Service) -> dict:
    t = service.template
    return {
        "resourceType": "Schedule",
        "id": service.id,
        "active": True,
        "serviceType": [specialty_concept(service)],
        "actor": [{"reference": f"HealthcareService/{service.id}"},
                  {"reference": f"Location/{service.site.code}"}],
        "planningHorizon": {"start": minute_to_iso(t.start_minute(t.first)),
                            "end": minute_to_iso(t.end_minute(t.stop - 1))},
        "comment": f"{t.per_week} slots a week",
    }


def slot(service: Service, k: int, busy: bool) -> dict:
    t = service.template
    return {
        "resourceType": "Slot",
        "id": service.slot_id(k),
        "serviceType": [specialty_concept(service)],
        "schedule": {"reference": f"Schedule/{service.id}"},
        "status": "busy" if busy else "free",
        "start": minute_to_iso(t.start_minute(k)),
        "end": minute_to_iso(t.end_minute(k)),
    }


def site(trust: Trust, code: str) -> Site | None:
    return next((s for s in trust.sites if s.code == code), None)


def catalogued(trust: Trust, kind: str, rid: str) -> dict | None:
    """A resource the catalogue holds (everything but Slots); None when the trust has no such one."""
    if kind == "HealthcareService" or kind == "Schedule":
        service = trust.services.get(rid)
        if service is None:
            return None
        return healthcare_service(service) if kind == "HealthcareService" else schedule(service)
    if kind == "Location":
        found = site(trust, rid)
        return location(found) if found else None
    if kind == "Organization":
        return organization(trust) if rid == trust.ods else None
    return None


def appointment(row: Any) -> dict:
    """A booking's Appointment, from a PAS's appointment row (or the values a Core insert wrote, as a
    namespace): anything with the row's attributes."""
    return appointment_resource(BookingFacts(
        ubrn=row.ubrn, nhs_number=row.nhs_number, trust_ods=row.ods, gp_ods=row.gp_ods,
        service_id=row.service_id, slot_id=row.slot_id, start=row.start, end=row.end, status=row.status,
        specialty=row.specialty, appointment_id=row.id, referral_id=row.referral_id,
    ))
