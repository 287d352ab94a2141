"""CapabilityStatements: the root's (the trusts the middleware stands for) and each trust's."""

from __future__ import annotations

from collections.abc import Iterable

from party_common.capability import capability_statement
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST
from party_common.search import capability_resource
from party_common.trusts.catalogue import Trust

from middleware.searches import HEALTHCARE_SERVICE, ORGANIZATION, SLOT

RECEIVES = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST)


def root_capability(trusts: Iterable[str], base: str) -> dict:
    trusts = list(trusts)
    return capability_statement(
        "middleware", [], [],
        rest_resources=[capability_resource(ORGANIZATION, ["read", "search-type"])],
        base=base, description="trust integration engine (FHIR to HL7 v2) for " + (", ".join(trusts) or "no trust"),
        receives=RECEIVES, endpoints=[f"{base}/{ods}" for ods in trusts],
    )


def trust_capability(trust: Trust, base: str) -> dict:
    return capability_statement(
        f"middleware {trust.ods}", [], ["process-message"],
        rest_resources=[capability_resource(HEALTHCARE_SERVICE, ["read", "search-type"]),
                        capability_resource(SLOT, ["read", "search-type"])],
        base=f"{base}/{trust.ods}",
        description=f"{trust.name}: integration engine in front of its legacy HL7 v2 PAS",
        receives=RECEIVES,
    )
