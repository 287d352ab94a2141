"""CapabilityStatements: the service root's and each hosted trust's."""

from __future__ import annotations

from collections.abc import Iterable

from party_common.app_factory import capability_statement
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST
from party_common.search import capability_resource

from party_common.trusts.catalogue import Trust
from trust_pas.searches import (
    APPOINTMENT,
    HEALTHCARE_SERVICE,
    LOCATION,
    ORGANIZATION,
    SCHEDULE,
    SERVICE_REQUEST,
    SLOT,
)

# What each trust's inbox takes from the broker; a trust answers each message in its response and
# sends none of its own.
RECEIVES = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST)


def root_capability(trusts: Iterable[str], base: str) -> dict:
    """The root serves the trust directory; the messages go to each trust's base, so those are its
    messaging endpoints."""
    return capability_statement(
        "trust_pas",
        [],
        [],
        rest_resources=[capability_resource(ORGANIZATION, ["read", "search-type"])],
        base=base, description="trust PAS hosting trusts " + ", ".join(trusts),
        receives=RECEIVES, endpoints=[f"{base}/{ods}" for ods in trusts],
    )


def trust_capability(trust: Trust, base: str) -> dict:
    return capability_statement(
        f"trust_pas {trust.ods}",
        [],
        ["process-message"],
        # Declared from the specs the search routes parse with, so the two cannot disagree.
        rest_resources=[capability_resource(spec, ["read", "search-type"]) for spec in
                        (HEALTHCARE_SERVICE, LOCATION, SCHEDULE, SLOT, APPOINTMENT, SERVICE_REQUEST, ORGANIZATION)],
        base=f"{base}/{trust.ods}", description=f"{trust.name} patient administration system",
        receives=RECEIVES,
    )
