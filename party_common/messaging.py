"""FHIR message Bundles: building BaRS-shaped requests and responses, and reading them back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .clock import party_clock
from .identifiers import MESSAGE_EVENT_SYSTEM, MESSAGE_REASON_SYSTEM, ODS_SYSTEM
from .outcome import FhirError

BOOKING_REQUEST = "booking-request"
BOOKING_CANCEL = "booking-cancel"
RESPONSE_CODES = ("ok", "transient-error", "fatal-error")


def now_iso() -> str:
    return party_clock().now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def ods_reference(ods: str) -> dict:
    return {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": ods}}


def message_bundle(
    event: str,
    resources: list[dict],
    *,
    source_endpoint: str,
    destination_endpoint: str,
    sender_ods: str | None = None,
    receiver_ods: str | None = None,
    reason: str | None = "new",
    response: dict | None = None,
    bundle_id: str | None = None,
    header_id: str | None = None,
    timestamp: str | None = None,
) -> dict:
    """A message Bundle: MessageHeader first, its focus the first of `resources`."""
    entries = [{"fullUrl": _urn(), "resource": r} for r in resources]
    destination: dict = {"endpoint": destination_endpoint}
    if receiver_ods:
        destination["receiver"] = ods_reference(receiver_ods)
    header: dict = {
        "resourceType": "MessageHeader",
        "id": header_id or str(uuid.uuid4()),
        "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": event},
        "destination": [destination],
        "source": {"name": "nhs-interop-testbed", "software": "nhs-interop-testbed", "endpoint": source_endpoint},
    }
    if sender_ods:
        header["sender"] = ods_reference(sender_ods)
    if reason:
        header["reason"] = {"coding": [{"system": MESSAGE_REASON_SYSTEM, "code": reason}]}
    if response:
        header["response"] = response
    if entries:
        header["focus"] = [{"reference": entries[0]["fullUrl"]}]
    return {
        "resourceType": "Bundle",
        "id": bundle_id or str(uuid.uuid4()),
        "meta": {"lastUpdated": timestamp or now_iso()},
        "type": "message",
        "timestamp": timestamp or now_iso(),
        "entry": [{"fullUrl": _urn(), "resource": header}, *entries],
    }


@dataclass
class Message:
    """A message Bundle that passed R4B validation, read for what receivers need."""

    bundle: dict
    bundle_id: str
    header: dict
    header_id: str | None
    event: str
    event_system: str | None
    reason: str | None
    resources: list[dict] = field(default_factory=list)

    @property
    def focus(self) -> dict | None:
        refs = [f.get("reference") for f in self.header.get("focus", [])]
        for entry in self.bundle.get("entry", [])[1:]:
            if entry.get("fullUrl") in refs:
                return entry.get("resource")
        return None

    def first(self, resource_type: str) -> dict | None:
        return next((r for r in self.resources if r.get("resourceType") == resource_type), None)

    def first_index(self, resource_type: str) -> int | None:
        """Index in Bundle.entry of the first resource of a type, for error expressions."""
        for i, entry in enumerate(self.bundle.get("entry", [])):
            if (entry.get("resource") or {}).get("resourceType") == resource_type:
                return i
        return None

    @property
    def response(self) -> dict | None:
        return self.header.get("response")

    @property
    def sender_ods(self) -> str | None:
        return ((self.header.get("sender") or {}).get("identifier") or {}).get("value")


def read_message(bundle: dict) -> Message:
    """Reads an R4B-valid Bundle as a message; raises FhirError naming the element at fault."""
    if bundle.get("type") != "message":
        raise FhirError(400, "invalid", "Bundle.type must be 'message' for $process-message", ["Bundle.type"])
    if not bundle.get("id"):
        raise FhirError(400, "required", "Bundle.id is required: it is the message's identity", ["Bundle.id"])
    entries = bundle.get("entry") or []
    header = (entries[0].get("resource") if entries else None) or {}
    if header.get("resourceType") != "MessageHeader":
        raise FhirError(400, "structure", "the first entry of a message must be a MessageHeader",
                        ["Bundle.entry[0].resource"])
    coding = header.get("eventCoding")
    if not coding or not coding.get("code"):
        raise FhirError(400, "required", "MessageHeader.eventCoding.code is required",
                        ["Bundle.entry[0].resource.eventCoding"])
    reason = None
    for c in (header.get("reason") or {}).get("coding", []):
        reason = c.get("code")
    return Message(
        bundle=bundle,
        bundle_id=bundle["id"],
        header=header,
        header_id=header.get("id"),
        event=coding["code"],
        event_system=coding.get("system"),
        reason=reason,
        resources=[e.get("resource") for e in entries[1:] if e.get("resource")],
    )


def response_bundle(request: Message, code: str, resources: list[dict], *, source_endpoint: str,
                    event: str | None = None, bundle_id: str | None = None) -> dict:
    """The response message to `request`: MessageHeader.response.identifier is the request Bundle.id."""
    if code not in RESPONSE_CODES:
        raise ValueError(code)
    return message_bundle(
        event or request.event,
        resources,
        source_endpoint=source_endpoint,
        destination_endpoint=request.header.get("source", {}).get("endpoint") or "urn:unknown",
        reason=None,
        response={"identifier": request.bundle_id, "code": code},
        bundle_id=bundle_id,
    )
