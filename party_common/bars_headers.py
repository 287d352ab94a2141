"""The BaRS request headers that carry routing and identity beside the message.

`NHSD-Target-Identifier` names the receiving service (base64 of `{"value", "system"}`), and
`NHSD-End-User-Organisation` the sending organisation (base64 of a FHIR Organization). Both are
standard Base64 of JSON; a sender that gets either wrong is told which header is at fault.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import orjson

from party_common.identifiers import ODS_SYSTEM, canonical_system
from party_common.outcome import FhirError

TARGET_IDENTIFIER = "NHSD-Target-Identifier"
END_USER_ORGANISATION = "NHSD-End-User-Organisation"


def _decoded(headers: Mapping[str, str], name: str):
    raw = headers.get(name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        # Senders differ on padding; the standard alphabet is what BaRS names.
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FhirError(400, "invalid", f"header {name} is not valid Base64", [name],
                        bars_code="SEND_BAD_REQUEST") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FhirError(400, "invalid", f"header {name} is not Base64-encoded JSON", [name],
                        bars_code="SEND_BAD_REQUEST") from None


def target_identifier(headers: Mapping[str, str]) -> tuple[str | None, str] | None:
    """(system, value) of the target service named by `NHSD-Target-Identifier`, if sent."""
    data = _decoded(headers, TARGET_IDENTIFIER)
    if data is None:
        return None
    value = data.get("value") if isinstance(data, dict) else None
    system = data.get("system") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value or (system is not None and not isinstance(system, str)):
        raise FhirError(400, "invalid", f"header {TARGET_IDENTIFIER} must be an object with a string "
                        "'value' (and 'system')", [TARGET_IDENTIFIER], bars_code="SEND_BAD_REQUEST")
    return canonical_system(system), value


def end_user_ods(headers: Mapping[str, str]) -> str | None:
    """The ODS code of the Organization in `NHSD-End-User-Organisation`, if sent."""
    data = _decoded(headers, END_USER_ORGANISATION)
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("resourceType") != "Organization":
        raise FhirError(400, "invalid", f"header {END_USER_ORGANISATION} must hold a FHIR Organization",
                        [END_USER_ORGANISATION], bars_code="SEND_BAD_REQUEST")
    for ident in data.get("identifier") or []:
        if isinstance(ident, dict) and canonical_system(ident.get("system")) == ODS_SYSTEM \
                and isinstance(ident.get("value"), str) and ident["value"]:
            return ident["value"]
    raise FhirError(400, "required", f"the Organization in {END_USER_ORGANISATION} has no ODS code "
                    f"({ODS_SYSTEM})", [END_USER_ORGANISATION], bars_code="SEND_BAD_REQUEST")


def encode(value: dict) -> str:
    """A header value as senders build one."""
    return base64.b64encode(orjson.dumps(value)).decode()
