"""What the middleware's FHIR searches honour, stated once: the routes parse with these specs and the
CapabilityStatements declare them. A narrower surface than the FHIR PAS's: what a broker asks of a trust."""

from __future__ import annotations

from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM
from party_common.search import Include, Param, SearchSpec

_R4 = "http://hl7.org/fhir/SearchParameter"

SLOT_SCHEDULE = Include("Slot", "schedule", "schedule", ("Schedule",))
SERVICE_TOKEN = "Schedule.actor:HealthcareService"

SLOT = SearchSpec(
    "Slot",
    params=(
        Param(SERVICE_TOKEN, "token", f"The service whose slots are wanted, by its id or its DoS id ({DOS_SYSTEM}|<id>).",
              example="rlg1-rlg101-cardiology"),
        Param("service", "reference", "The service whose slots are wanted (HealthcareService/<id> or <id>).",
              target="HealthcareService"),
        Param("schedule", "reference", "The service's Schedule (Schedule/<id>; one Schedule per service).",
              target="Schedule", definition=f"{_R4}/Slot-schedule"),
        Param("status", "token", "free (the legacy PAS lists free slots only; busy finds none).",
              definition=f"{_R4}/Slot-status", example="free"),
        Param("start", "date", "When the slot starts; repeat with prefixes for a window (ge...&lt...).",
              definition=f"{_R4}/Slot-start", example="ge2027-01-04T09:00:00+00:00"),
    ),
    includes=(SLOT_SCHEDULE,),
    default_count=10, max_count=100,
    # The next page starts at a minute of the calendar: what the SQM^S25 asks from.
    paging="cursor",
)

HEALTHCARE_SERVICE = SearchSpec(
    "HealthcareService",
    params=(
        Param("identifier", "token", f"The service's DoS id ({DOS_SYSTEM}|<id>).",
              definition=f"{_R4}/HealthcareService-identifier"),
    ),
    default_count=100, max_count=1000,
)

ORGANIZATION = SearchSpec(
    "Organization",
    params=(
        Param("identifier", "token", f"The trust's ODS code ({ODS_SYSTEM}|<code>).",
              definition=f"{_R4}/Organization-identifier", example=f"{ODS_SYSTEM}|RLG1"),
    ),
    default_count=100, max_count=1000,
)
