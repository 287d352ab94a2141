"""CapabilityStatements: the service root's and each hosted trust's."""

from __future__ import annotations

from party_common.app_factory import capability_statement

from .catalogue import Trust


def root_capability() -> dict:
    return capability_statement(
        "trust_pas",
        [{"type": "Organization", "interactions": ["read", "search-type"],
          "search": {"identifier": "token"}}],
        [],
    )


def trust_capability(trust: Trust) -> dict:
    statement = capability_statement(
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
    )
    statement["implementation"] = {"description": f"{trust.name} patient administration system"}
    return statement
