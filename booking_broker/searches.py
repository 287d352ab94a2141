"""What each of the broker's searches honours: one spec per resource type, read by its route, by the
CapabilityStatement and by the OpenAPI document, so the three cannot disagree."""

from __future__ import annotations

from typing import TypedDict

from party_common.identifiers import NHS_NUMBER_SYSTEM, SLOT_STATUSES
from party_common.search import Include, Param, SearchSpec

SERVICE_DOC = ("The service whose slots are wanted: its DoS id, its id here, or `HealthcareService/<id>`; "
               "comma-separated values match any. Without a service parameter, the service "
               "`NHSD-Target-Identifier` names; without either (or `specialty`), every service.")

# Reconciliation reads the ledgers whole, and the harness the directory: 1,000 a page keeps that to
# few requests.
class _PageSizes(TypedDict):
    default_count: int
    max_count: int


_WHOLE_READS: _PageSizes = {"default_count": 100, "max_count": 1000}
_IDENTIFIER = "http://hl7.org/fhir/SearchParameter/clinical-identifier"

NHS_NUMBER = Param("patient:identifier", "token", f"The patient's NHS number ({NHS_NUMBER_SYSTEM}|<n>).",
                   example=f"{NHS_NUMBER_SYSTEM}|9990000034")

SLOT = SearchSpec(
    "Slot",
    params=(
        Param("Schedule.actor:HealthcareService", "token", SERVICE_DOC,
              example="316565931"),
        Param("service", "reference", "The service whose slots are wanted (its id here); as "
              "`Schedule.actor:HealthcareService`.", target="HealthcareService", example="rt1-rt101-cardiology"),
        Param("specialty", "token", "Every trust's slots of this specialty, merged earliest first.",
              example="cardiology"),
        Param("status", "token", "Slot status, comma-separated (free, busy); `free` when not given.",
              definition="http://hl7.org/fhir/SearchParameter/Slot-status", example="free", codes=SLOT_STATUSES),
        Param("start", "date", "Slot start; repeat with prefixes for a window (ge..., lt...).",
              definition="http://hl7.org/fhir/SearchParameter/Slot-start", example="ge2027-01-04T00:00:00+00:00"),
    ),
    # Ascending only: each trust lists its slots earliest first, so `-start` is not offered.
    sorts=("start",), descending=False,
    includes=(
        Include("Slot", "schedule", "schedule", ("Schedule",)),
        Include("Schedule", "actor", "actor", ("HealthcareService",)),
        Include("HealthcareService", "providedBy", "providedBy", ("Organization",)),
    ),
    default_count=10, max_count=100, paging="cursor",
)

HEALTHCARE_SERVICE = SearchSpec(
    "HealthcareService",
    params=(
        Param("identifier", "token", "The service's DoS id (`https://fhir.nhs.uk/Id/dos-service-id|<id>`).",
              definition="http://hl7.org/fhir/SearchParameter/HealthcareService-identifier", example="316565931"),
        Param("specialty", "token", "The service's specialty code.", example="cardiology"),
        Param("service-type", "token", "A code of the service's `type` (here the specialty).",
              definition="http://hl7.org/fhir/SearchParameter/HealthcareService-service-type",
              example="cardiology"),
        Param("organization", "reference", "The trust providing the service: `Organization/<ODS code>` or the "
              "ODS code.", target="Organization",
              definition="http://hl7.org/fhir/SearchParameter/HealthcareService-organization", example="RT1"),
    ),
    sorts=("_id", "name"),
    includes=(Include("HealthcareService", "providedBy", "providedBy", ("Organization",)),),
    **_WHOLE_READS,
)

APPOINTMENT = SearchSpec("Appointment", params=(
    NHS_NUMBER,
    Param("identifier", "token", "The booking's UBRN (`https://fhir.nhs.uk/Id/UBRN|<UBRN>`).", definition=_IDENTIFIER,
          example="131679000012"),
    Param("status", "token", "booked, cancelled or entered-in-error (a booking the trust refused).",
          definition="http://hl7.org/fhir/SearchParameter/Appointment-status", example="booked"),
), sorts=("_id", "date"), **_WHOLE_READS)

SERVICE_REQUEST = SearchSpec("ServiceRequest", params=(
    NHS_NUMBER,
    Param("identifier", "token", "The referral's id as the practice gave it.", definition=_IDENTIFIER),
    Param("ServiceRequest.identifier", "token", "The referral's id, as BaRS spells the parameter."),
), sorts=("_id",), **_WHOLE_READS)

ALL = [SLOT, HEALTHCARE_SERVICE, APPOINTMENT, SERVICE_REQUEST]
