"""CapabilityStatements: the service root's and each hosted trust's."""

from __future__ import annotations

from collections.abc import Iterable

from party_common.app_factory import capability_statement
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST

from .catalogue import Trust

# What each trust's inbox takes from the broker; a trust answers each message in its response and
# sends none of its own.
RECEIVES = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST)


def root_capability(trusts: Iterable[str], base: str) -> dict:
    """The root serves the trust directory; the messages go to each trust's base, so those are its
    messaging endpoints."""
    return capability_statement(
        "trust_pas",
        [{"type": "Organization", "interactions": ["read", "search-type"],
          "search": {"identifier": "token"}}],
        [],
        base=base, description="trust PAS hosting trusts " + ", ".join(trusts),
        receives=RECEIVES, endpoints=[f"{base}/{ods}" for ods in trusts],
    )


def trust_capability(trust: Trust, base: str) -> dict:
    return capability_statement(
        f"trust_pas {trust.ods}",
        [
            {"type": "HealthcareService", "interactions": ["read", "search-type"],
             "search": {"specialty": "token"}},
            {"type": "Location", "interactions": ["read", "search-type"]},
            {"type": "Schedule", "interactions": ["read", "search-type"]},
            {"type": "Slot", "interactions": ["read", "search-type"],
             "search": {"service": "reference", "schedule": "reference", "status": "token",
                        "start": "date", "_count": "number"}},
            {"type": "Appointment", "interactions": ["read", "search-type"],
             "search": {"identifier": "token", "status": "token", "_count": "number", "_offset": "number"}},
        ],
        ["process-message"],
        base=f"{base}/{trust.ods}", description=f"{trust.name} patient administration system",
        receives=RECEIVES,
    )
