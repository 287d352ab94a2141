"""What each of a trust's FHIR searches honours, stated once: the routes parse requests with these
specs, and the CapabilityStatement and the OpenAPI document declare them from the same specs."""

from __future__ import annotations

from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import (
    DOS_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SITE_SYSTEM,
    ODS_SYSTEM,
    SLOT_STATUSES,
    SPECIALTY_SYSTEM,
    UBRN_SYSTEM,
)
from party_common.search import Include, Param, SearchSpec

_R4 = "http://hl7.org/fhir/SearchParameter"

# Every reference a trust's resources hold to one another, so `_include` (and `_include:iterate`)
# reaches from a Slot to its Schedule, the HealthcareService, its site and its trust.
SLOT_SCHEDULE = Include("Slot", "schedule", "schedule", ("Schedule",))
SCHEDULE_ACTOR = Include("Schedule", "actor", "actor", ("HealthcareService", "Location"))
SERVICE_PROVIDER = Include("HealthcareService", "providedBy", "providedBy", ("Organization",))
SERVICE_LOCATION = Include("HealthcareService", "location", "location", ("Location",))
LOCATION_ORGANIZATION = Include("Location", "organization", "managingOrganization", ("Organization",))
_FROM_SCHEDULE = (SCHEDULE_ACTOR, SERVICE_PROVIDER, SERVICE_LOCATION, LOCATION_ORGANIZATION)
_FROM_SERVICE = (SERVICE_PROVIDER, SERVICE_LOCATION, LOCATION_ORGANIZATION)

NHS_NUMBER = Param("patient:identifier", "token", f"The patient's NHS number ({NHS_NUMBER_SYSTEM}|<number>).",
                   example=f"{NHS_NUMBER_SYSTEM}|9990000018")

SERVICE_TOKEN = "Schedule.actor:HealthcareService"
SLOT = SearchSpec(
    "Slot",
    params=(
        Param(SERVICE_TOKEN, "token",
              f"The service whose slots are wanted, by its id or its DoS id ({DOS_SYSTEM}|<id>), as BaRS names "
              "it. One service per search; without any service parameter, the service NHSD-Target-Identifier "
              "names.", example="rt1-rt101-cardiology"),
        Param("service", "reference", "The service whose slots are wanted (HealthcareService/<id> or <id>).",
              target="HealthcareService"),
        Param("schedule", "reference", "The service's Schedule (Schedule/<id>; one Schedule per service).",
              target="Schedule", definition=f"{_R4}/Slot-schedule"),
        Param("status", "token", "free, busy, or free,busy for both; without it, both.",
              definition=f"{_R4}/Slot-status", example="free", codes=SLOT_STATUSES),
        Param("start", "date", "When the slot starts; repeat with prefixes for a window (ge...&lt...).",
              definition=f"{_R4}/Slot-start", example="ge2027-01-04T09:00:00+00:00"),
    ),
    includes=(SLOT_SCHEDULE, *_FROM_SCHEDULE),
    default_count=10, max_count=100,
    # The next page starts at a slot ordinal: a calendar position, so a page is found as fast deep in
    # the calendar as at its front, and the link does not grow.
    paging="cursor",
)

APPOINTMENT = SearchSpec(
    "Appointment",
    params=(
        NHS_NUMBER,
        Param("identifier", "token", f"The booking's UBRN ({UBRN_SYSTEM}|<UBRN>).",
              definition=f"{_R4}/clinical-identifier", example=f"{UBRN_SYSTEM}|000000000001"),
        Param("status", "token", "booked or cancelled (comma-separated for either).",
              definition=f"{_R4}/Appointment-status", example="booked"),
        Param("date", "date", "When the appointment starts.", definition=f"{_R4}/clinical-date",
              example="ge2027-01-04"),
    ),
    sorts=("date",),
    includes=(Include("Appointment", "slot", "slot", ("Slot",)), SLOT_SCHEDULE, *_FROM_SCHEDULE),
    default_count=100, max_count=1000,
)

SERVICE_REQUEST = SearchSpec(
    "ServiceRequest",
    params=(
        Param("patient:identifier", "token", NHS_NUMBER.doc, example=NHS_NUMBER.example),
        Param("identifier", "token", f"The practice's referral id ({REFERRAL_SYSTEM}|<id>).",
              definition=f"{_R4}/clinical-identifier"),
        Param("ServiceRequest.identifier", "token", "The referral id, as BaRS spells the parameter."),
        Param("status", "token", "The referral's status (active).", definition=f"{_R4}/ServiceRequest-status"),
    ),
    includes=(Include("ServiceRequest", "performer", "performer", ("HealthcareService",)), *_FROM_SERVICE),
    default_count=100, max_count=1000,
)

HEALTHCARE_SERVICE = SearchSpec(
    "HealthcareService",
    params=(
        Param("identifier", "token", f"The service's DoS id ({DOS_SYSTEM}|<id>).",
              definition=f"{_R4}/HealthcareService-identifier"),
        Param("specialty", "token", f"The specialty the service offers ({SPECIALTY_SYSTEM}|<code>), as its type.",
              example="cardiology"),
        Param("service-type", "token", "The same as specialty: the service's type.",
              definition=f"{_R4}/HealthcareService-service-type"),
        Param("location", "reference", "The site (Location/<site code>).", target="Location",
              definition=f"{_R4}/HealthcareService-location"),
        Param("organization", "reference", "The trust (Organization/<ODS code>).", target="Organization",
              definition=f"{_R4}/HealthcareService-organization"),
    ),
    includes=_FROM_SERVICE,
)

SCHEDULE = SearchSpec(
    "Schedule",
    params=(
        Param("actor", "reference", "The service or site (HealthcareService/<id>, Location/<code>).",
              definition=f"{_R4}/Schedule-actor"),
        Param("service-type", "token", "The specialty of the service.", definition=f"{_R4}/Schedule-service-type"),
    ),
    includes=_FROM_SCHEDULE,
)

LOCATION = SearchSpec(
    "Location",
    params=(
        Param("identifier", "token", f"The site's ODS code ({ODS_SITE_SYSTEM}|<code>).",
              definition=f"{_R4}/Location-identifier"),
        Param("organization", "reference", "The trust that runs the site (Organization/<ODS code>).",
              target="Organization", definition=f"{_R4}/Location-organization"),
    ),
    includes=(LOCATION_ORGANIZATION,),
)

ORGANIZATION = SearchSpec(
    "Organization",
    params=(
        Param("identifier", "token", f"The trust's ODS code ({ODS_SYSTEM}|<code>) or DoS id ({DOS_SYSTEM}|<id>).",
              definition=f"{_R4}/Organization-identifier", example=f"{ODS_SYSTEM}|RT1"),
    ),
)
