"""What each of the spine's searches honours: the routes parse with these specs, and the
CapabilityStatement and the OpenAPI document declare them."""

from __future__ import annotations

from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from party_common.search import Param, SearchSpec

_NHS_EXAMPLE = f"{NHS_NUMBER_SYSTEM}|9990000018"

INDEX = SearchSpec(
    "Appointment",
    params=(Param("identifier", "token", f"The booking's UBRN ({UBRN_SYSTEM}|<UBRN>).",
                  definition="http://hl7.org/fhir/SearchParameter/clinical-identifier",
                  example=f"{UBRN_SYSTEM}|131679000012"),
            Param("patient:identifier", "token", f"The patient's NHS number ({NHS_NUMBER_SYSTEM}|<number>).",
                  example=_NHS_EXAMPLE),
            Param("status", "token", "The entry's status: booked or cancelled.",
                  definition="http://hl7.org/fhir/SearchParameter/Appointment-status", example="booked")),
    # Reconciliation reads the whole index; 1,000 a page keeps that to few requests.
    default_count=100,
    max_count=1000,
)

PATIENTS = SearchSpec(
    "Patient",
    params=(Param("identifier", "token", f"NHS number ({NHS_NUMBER_SYSTEM}|<number>).",
                  definition="http://hl7.org/fhir/SearchParameter/Patient-identifier", example=_NHS_EXAMPLE),
            Param("family", "string", "Family name: names that start with the value, case ignored.",
                  definition="http://hl7.org/fhir/SearchParameter/individual-family"),
            Param("birthdate", "date", "Date of birth, with a prefix (ge, gt, le, lt, eq).",
                  definition="http://hl7.org/fhir/SearchParameter/individual-birthdate", example="ge1980-01-01")),
)

ALL = [INDEX, PATIENTS]
