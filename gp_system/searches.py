"""What each of the GP system's searches honours: the routes parse with these specs, and the
CapabilityStatement and the OpenAPI document declare them."""

from __future__ import annotations

from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM
from party_common.search import Param, SearchSpec

_PATIENT = Param("patient:identifier", "token", f"The patient's NHS number ({NHS_NUMBER_SYSTEM}|<number>).",
                 example=f"{NHS_NUMBER_SYSTEM}|9990000018")

# The harness reads whole practices a page at a time; 1,000 a page keeps that to a few requests.
_LARGE_PAGES = 1000

APPOINTMENTS = SearchSpec(
    "Appointment",
    params=(_PATIENT,
            Param("identifier", "token", f"The booking's UBRN ({UBRN_SYSTEM}|<UBRN>).",
                  definition="http://hl7.org/fhir/SearchParameter/clinical-identifier",
                  example=f"{UBRN_SYSTEM}|131679000012"),
            Param("status", "token", "Appointment status: proposed (asked, not yet answered), booked, cancelled, "
                                     "entered-in-error (refused).",
                  definition="http://hl7.org/fhir/SearchParameter/Appointment-status", example="booked"),
            Param("date", "date", "Appointment start, with a prefix (ge, gt, le, lt, eq).",
                  definition="http://hl7.org/fhir/SearchParameter/Appointment-date", example="ge2027-03-01")),
    sorts=("date",),
    max_count=_LARGE_PAGES,
)

PATIENTS = SearchSpec(
    "Patient",
    params=(Param("identifier", "token", f"NHS number ({NHS_NUMBER_SYSTEM}|<number>).",
                  definition="http://hl7.org/fhir/SearchParameter/Patient-identifier",
                  example=f"{NHS_NUMBER_SYSTEM}|9990000018"),),
    max_count=_LARGE_PAGES,
)

REFERRALS = SearchSpec(
    "ServiceRequest",
    params=(_PATIENT,
            Param("identifier", "token", f"Any identifier of the referral; the practice's own is {REFERRAL_SYSTEM}|<id>.",
                  definition="http://hl7.org/fhir/SearchParameter/clinical-identifier"),
            Param("status", "token", "ServiceRequest status (every referral here is active).",
                  definition="http://hl7.org/fhir/SearchParameter/ServiceRequest-status", example="active")),
    default_count=100,
    max_count=_LARGE_PAGES,
)

PRACTICES = SearchSpec(
    "Organization",
    params=(Param("identifier", "token", f"The practice's ODS code ({ODS_SYSTEM}|<code>) or DoS id.",
                  definition="http://hl7.org/fhir/SearchParameter/Organization-identifier",
                  example=f"{ODS_SYSTEM}|Y90001"),),
)

ALL = [APPOINTMENTS, PATIENTS, REFERRALS, PRACTICES]
