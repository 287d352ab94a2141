"""BaRS message Bundles: the envelope every party writes and reads.

Written as the standard (BaRS 1.x) defines them: `urn:uuid` fullUrls, the MessageHeader first, every
entry reachable from it, references that resolve inside the Bundle, `meta.profile` and
`MessageHeader.definition`, `sender` and `destination.receiver` as references to Organization
entries, and endpoints as Directory of Services ids (`https://fhir.nhs.uk/Id/dos-service-id|<id>`).

Read as senders really write them: references resolve by `fullUrl`, or literally (`Slot/<id>`) to an
entry of that type and id; identifier systems compare with the `http://` and `/id/` spellings the
published examples use.

Entry fullUrls derive from the Bundle id, so a message built again from the same facts (a repair, a
retry after a restart) is the same message, byte for byte but for its timestamps.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

import orjson

from party_common.clock import party_clock
from party_common.identifiers import (
    DOS_SYSTEM,
    MESSAGE_EVENT_SYSTEM,
    MESSAGE_REASON_SYSTEM,
    ODS_SYSTEM,
    canonical_system,
    dos_token,
)
from party_common.outcome import FhirError

BOOKING_REQUEST = "booking-request"
BOOKING_CANCEL = "booking-cancel"
SERVICEREQUEST_REQUEST = "servicerequest-request"
SERVICEREQUEST_RESPONSE = "servicerequest-response"
RESPONSE_CODES = ("ok", "transient-error", "fatal-error")

PROFILE_BASE = "https://fhir.nhs.uk/StructureDefinition/"
UKCORE_BASE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
BUNDLE_PROFILE = PROFILE_BASE + "BARSBundleMessage"
DEFINITION_BASE = "https://fhir.nhs.uk/MessageDefinition/bars-message-"
SOFTWARE = "nhs-interop-testbed"
VERSION = "0.1.0"

_URN_NAMESPACE = uuid.UUID("3d0f3c57-2f58-4c8e-9a0f-6b1d1f0c9e21")


def now_iso() -> str:
    return party_clock().now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header_profile(event: str) -> str:
    return f"{PROFILE_BASE}BARSMessageHeader-{event}"


def definition(event: str) -> str:
    return DEFINITION_BASE + event


def ods_reference(ods: str) -> dict:
    """A logical reference to an organisation by ODS code, for REST resources (not messages)."""
    return {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": ods}}


def profiled(resource_type: str) -> dict:
    return {"profile": [UKCORE_BASE + resource_type]}


@dataclass(frozen=True)
class Org:
    """An organisation as a message names it: ODS code, DoS id, name (any may be unknown)."""

    ods: str | None
    dos: str | None = None
    name: str | None = None

    def resource(self, resource_id: str | None = None) -> dict:
        org: dict = {"resourceType": "Organization"}
        if resource_id:
            org["id"] = resource_id
        org["meta"] = profiled("Organization")
        identifiers = []
        if self.ods:
            identifiers.append({"system": ODS_SYSTEM, "value": self.ods})
        if self.dos:
            identifiers.append({"system": DOS_SYSTEM, "value": self.dos})
        if identifiers:
            org["identifier"] = identifiers
        if self.name:
            org["name"] = self.name
        return org

    @property
    def endpoint(self) -> str:
        return dos_token(self.dos) if self.dos else f"{ODS_SYSTEM}|{self.ods}"


def org_of(resource: dict | None) -> Org | None:
    """An Organization resource read back as an Org."""
    if not resource or resource.get("resourceType") != "Organization":
        return None
    ods = dos = None
    for ident in resource.get("identifier") or []:
        system = canonical_system(ident.get("system"))
        if system == ODS_SYSTEM and not ods:
            ods = ident.get("value")
        elif system == DOS_SYSTEM and not dos:
            dos = ident.get("value")
    return Org(ods, dos, resource.get("name"))


class MessageBuilder:
    """Collects a message's entries and writes the Bundle around them."""

    def __init__(self, bundle_id: str | None = None):
        self.bundle_id = bundle_id or str(uuid.uuid4())
        self.entries: list[dict] = []
        self._roles: dict[str, str] = {}

    def urn(self, role: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_URN_NAMESPACE, f'{self.bundle_id}|{role}')}"

    def add(self, role: str, resource: dict) -> str:
        """Adds `resource` under `role` (once: a role added again keeps the first); returns its fullUrl."""
        if role in self._roles:
            return self._roles[role]
        url = self.urn(role)
        self._roles[role] = url
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    def org(self, org: Org) -> str:
        return self.add(f"org:{org.ods or org.dos or org.name}", org.resource())

    def build(self, event: str, *, sender: str, destination: str, receiver: str | None = None,
              focus: list[str] | None = None, source: Org | None = None, reason: str | None = "new",
              response: dict | None = None, header_id: str | None = None, timestamp: str | None = None) -> dict:
        """The Bundle: MessageHeader first, then the entries in the order they were added."""
        stamp = timestamp or now_iso()
        dest: dict = {"endpoint": destination}
        if receiver:
            dest["receiver"] = {"reference": receiver}
        src: dict = {"name": (source.name if source and source.name else SOFTWARE), "software": SOFTWARE,
                     "version": VERSION, "endpoint": source.endpoint if source else f"urn:{SOFTWARE}"}
        header: dict = {
            "resourceType": "MessageHeader",
            "id": header_id or str(uuid.uuid5(_URN_NAMESPACE, f"{self.bundle_id}|header")),
            "meta": {"lastUpdated": stamp, "profile": [header_profile(event)]},
            "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": event},
            "destination": [dest],
            "sender": {"reference": sender},
            "source": src,
        }
        if reason:
            header["reason"] = {"coding": [{"system": MESSAGE_REASON_SYSTEM, "code": reason}]}
        if response:
            header["response"] = response
        if focus:
            header["focus"] = [{"reference": f} for f in focus]
        header["definition"] = definition(event)
        return {
            "resourceType": "Bundle",
            "id": self.bundle_id,
            "meta": {"lastUpdated": stamp, "profile": [BUNDLE_PROFILE]},
            "type": "message",
            "timestamp": stamp,
            "entry": [{"fullUrl": self.urn("header"), "resource": header}, *self.entries],
        }


def split_endpoint(endpoint: str | None) -> tuple[str | None, str] | None:
    """`system|value` (a DoS or ODS token) as (canonical system, value); a plain URL as (None, url)."""
    if not endpoint:
        return None
    if "|" in endpoint:
        system, value = endpoint.split("|", 1)
        return canonical_system(system), value
    return None, endpoint


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
    _by_url: dict[str, int] = field(default_factory=dict, repr=False)
    _digest: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for i, entry in enumerate(self.bundle.get("entry") or []):
            url = entry.get("fullUrl")
            if url:
                self._by_url.setdefault(url, i)

    @staticmethod
    def path(index: int) -> str:
        return f"Bundle.entry[{index}].resource"

    def entry(self, index: int) -> dict | None:
        entries = self.bundle.get("entry") or []
        return (entries[index].get("resource") if 0 <= index < len(entries) else None) or None

    def resolve(self, reference: dict | str | None, resource_type: str | None = None) -> tuple[dict, int] | None:
        """The entry a reference points at, with its index: by fullUrl, else literally `Type/id`."""
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if not ref or not isinstance(ref, str):
            return None
        index = self._by_url.get(ref)
        if index is None and "/" in ref and not ref.startswith("urn:"):
            # `Slot/<id>`, or an absolute `https://server/fhir/Slot/<id>`: the last two segments.
            rtype, rid = ref.rstrip("/").split("/")[-2:]
            for i, entry in enumerate(self.bundle.get("entry") or []):
                res = entry.get("resource") or {}
                if res.get("resourceType") == rtype and res.get("id") == rid:
                    index = i
                    break
        if index is None:
            return None
        res = self.entry(index)
        if res is None or (resource_type and res.get("resourceType") != resource_type):
            return None
        return res, index

    def literal_id(self, reference: dict | str | None, resource_type: str) -> str | None:
        """The id of a literal reference `Type/<id>` that does not resolve inside the Bundle."""
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if isinstance(ref, str) and ref.startswith(f"{resource_type}/") and ref.count("/") == 1:
            return ref.split("/", 1)[1] or None
        return None

    @property
    def focus_index(self) -> int | None:
        for f in self.header.get("focus") or []:
            found = self.resolve(f)
            if found:
                return found[1]
        return None

    @property
    def focus(self) -> dict | None:
        index = self.focus_index
        return self.entry(index) if index is not None else None

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

    def org(self, reference: dict | str | None) -> Org | None:
        """The Organization entry a reference points at, read as an Org."""
        found = self.resolve(reference, "Organization")
        return org_of(found[0]) if found else None

    def ods_of(self, reference: dict | str | None) -> str | None:
        """The ODS code of the Organization entry a reference points at."""
        org = self.org(reference)
        return org.ods if org else None

    @property
    def sender(self) -> Org | None:
        return self.org(self.header.get("sender"))

    @property
    def receiver(self) -> Org | None:
        for dest in self.header.get("destination") or []:
            found = self.org(dest.get("receiver"))
            if found:
                return found
        return None

    @property
    def sender_ods(self) -> str | None:
        sender = self.sender
        return sender.ods if sender else None

    @property
    def destination(self) -> tuple[str | None, str] | None:
        for dest in self.header.get("destination") or []:
            split = split_endpoint(dest.get("endpoint"))
            if split:
                return split
        return None

    @property
    def source(self) -> tuple[str | None, str] | None:
        return split_endpoint((self.header.get("source") or {}).get("endpoint"))

    def content_digest(self) -> str:
        """What the message says, without when it was written or under which ids: a resend of the same
        message (built again, sent again later, or under a new Bundle.id with the same
        MessageHeader.id) has the same digest; a different message under the same id does not."""
        if self._digest is None:
            self._digest = self._content_digest()
        return self._digest

    def _content_digest(self) -> str:
        entries = self.bundle.get("entry") or []
        # fullUrls (urn:uuids derived from the Bundle.id) stand for the entry they name.
        local = {e.get("fullUrl"): f"#entry{i}" for i, e in enumerate(entries) if isinstance(e, dict)}

        def strip(value, top=False):
            if isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    if k in ("meta", "timestamp") or (top and k == "id"):
                        continue
                    if k in ("fullUrl", "reference") and v in local:
                        out[k] = local[v]
                    else:
                        out[k] = strip(v)
                return out
            if isinstance(value, list):
                return [strip(v) for v in value]
            return value

        content = strip(self.bundle, top=True)
        if content.get("entry"):
            header = dict(content["entry"][0].get("resource") or {})
            header.pop("id", None)
            content["entry"][0] = {**content["entry"][0], "resource": header}
        return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


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
