"""Identifier systems and the NHS numbers and UBRNs the testbed hands out."""

from __future__ import annotations

import hashlib

import nhs_number

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
UBRN_SYSTEM = "https://fhir.nhs.uk/Id/UBRN"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"
# FHIR R4 SlotStatus: every code a Slot's `status` (and a Slot search's `status`) may hold.
SLOT_STATUSES = ("free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error")

MESSAGE_EVENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
MESSAGE_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
SPECIALTY_SYSTEM = "https://fhir.nhs.uk/CodeSystem/testbed-specialty"

# The range set aside for testing: no real person ever holds one of these.
TEST_RANGE_PREFIX = "999"
UBRN_MODULUS = 10**12
_UBRN_MULTIPLIER = 7_919_000_003  # odd and not a multiple of 5, so n -> n*k mod 10^12 is a bijection


def nhs_number_from_index(index: int) -> str | None:
    """The index-th candidate in the 999 range; None when its check digit would be 10 (no number)."""
    body = f"{TEST_RANGE_PREFIX}{index:06d}"
    if len(body) != 9:
        raise ValueError("index out of the test range")
    check = nhs_number.calculate_checksum(body)
    if check == 10 or check is None:
        return None
    return body + str(check)


def is_valid_nhs_number(value: str) -> bool:
    return isinstance(value, str) and len(value) == 10 and value.isdigit() and nhs_number.is_valid(value)


def is_test_nhs_number(value: str) -> bool:
    return is_valid_nhs_number(value) and value.startswith(TEST_RANGE_PREFIX)


def ubrn_from_sequence(seq: int, salt: int = 0) -> str:
    """A 12-digit UBRN, unique per sequence number, that does not look like a counter."""
    return f"{((seq + salt * 1_000_003) * _UBRN_MULTIPLIER + 100_000_000_000) % UBRN_MODULUS:012d}"


def split_token(token: str) -> tuple[str | None, str]:
    """FHIR token search value `system|value` (or just `value`)."""
    if "|" in token:
        system, value = token.split("|", 1)
        return system or None, value
    return None, token


# The Directory of Services id: BaRS routes a message to the service (or organisation) it names.
DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
DOS_ID_SPAN = 9 * 10**8


def dos_id(kind: str, key: str) -> str:
    """The testbed's DoS id for a practice, trust, service or national system: 9 digits, the same on
    every machine and run, so a scenario, a contract check or a curl example can name it."""
    digest = hashlib.blake2b(f"{kind}:{key.lower()}".encode(), digest_size=8).digest()
    return str(10**8 + int.from_bytes(digest, "big") % DOS_ID_SPAN)


def dos_token(dos: str) -> str:
    """A DoS id as MessageHeader.destination/source.endpoint carries it (`system|value`)."""
    return f"{DOS_SYSTEM}|{dos}"


def canonical_system(system: str | None) -> str | None:
    """An identifier system as compared: published BaRS examples spell NHS systems with `http://`
    and `/id/` as well as `https://` and `/Id/`; they name the same thing."""
    if not system:
        return system
    s = system.strip()
    if s.startswith("http://"):
        s = "https://" + s[len("http://"):]
    return s.replace("fhir.nhs.uk/id/", "fhir.nhs.uk/Id/")


def identifier_value(resource: dict, system: str) -> str | None:
    """The value of a resource's first identifier in `system` (either spelling), if any."""
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and canonical_system(ident.get("system")) == system and ident.get("value"):
            return ident["value"]
    return None
