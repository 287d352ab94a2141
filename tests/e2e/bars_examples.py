"""Published BaRS messages with their values changed to ones the testbed knows, structure untouched.

The rewrite goes by what each resource *is* (a Patient's NHS number, an Organization's ODS code, a
Slot's times, a DoS endpoint), never by where it stands in a given file, so the same procedure
applies to the examples of any published BaRS version.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass

import yaml
from jsonschema import Draft7Validator, FormatChecker

from party_common.identifiers import (DOS_SYSTEM, NHS_NUMBER_SYSTEM, ODS_SYSTEM, canonical_system, dos_id,
                                      identifier_value)


@dataclass
class Known:
    """Values the testbed knows: a registered patient, their practice, a service and a free slot."""

    nhs_number: str
    practice_ods: str
    practice_dos: str
    trust_ods: str
    trust_dos: str
    service_id: str
    service_dos: str
    slot_id: str | None = None
    slot_start: str | None = None
    slot_end: str | None = None


async def known_values(client, urls, nth_slot: int) -> Known:
    """Values a running stack (`urls`, reached by `client`) knows: its first practice and a patient
    registered there, the broker's first service and the `nth_slot`th free slot of it."""
    practice = (await client.get(f"{urls.gp}/Organization")).json()["entry"][0]["resource"]
    ods = identifier_value(practice, ODS_SYSTEM)
    patient = (await client.get(f"{urls.gp}/{ods}/Patient", params={"_count": 1})).json()["entry"][0]["resource"]
    service = (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"][0]["resource"]
    trust = service["providedBy"]["identifier"]["value"]
    slots = (await client.get(f"{urls.broker}/Slot", params={"service": service["id"], "_count": 20})).json()
    slot = slots["entry"][nth_slot]["resource"]
    return Known(nhs_number=patient["identifier"][0]["value"], practice_ods=ods,
                 practice_dos=identifier_value(practice, DOS_SYSTEM), trust_ods=trust,
                 trust_dos=dos_id("trust", trust), service_id=service["id"],
                 service_dos=identifier_value(service, DOS_SYSTEM), slot_id=slot["id"], slot_start=slot["start"],
                 slot_end=slot["end"])


def _endpoint(endpoint: str, value: str) -> str:
    """`system|old` -> `system|value`; the system (and its spelling) is structure, kept as sent."""
    return f"{endpoint.split('|', 1)[0]}|{value}" if "|" in endpoint else endpoint


def rewrite_values(bundle: dict, known: Known, *, to_practice: bool = False) -> dict:
    """A copy of a published message with only its values changed to `known` ones (and fresh ids).

    `to_practice`: the message travels from the trust to the practice (a response), so the
    destination is the practice's DoS id and the source the service's.
    """
    out = copy.deepcopy(bundle)
    out["id"] = str(uuid.uuid4())
    entries = out.get("entry") or []
    header = entries[0]["resource"]
    if "id" in header:
        header["id"] = str(uuid.uuid4())
    to_dos, from_dos = (known.practice_dos, known.service_dos) if to_practice else \
        (known.service_dos, known.practice_dos)
    for dest in header.get("destination") or []:
        if dest.get("endpoint"):
            dest["endpoint"] = _endpoint(dest["endpoint"], to_dos)
    source = header.get("source") or {}
    if source.get("endpoint"):
        source["endpoint"] = _endpoint(source["endpoint"], from_dos)
    # The trust's Organization: the receiver of a request, the sender of a response. Any other
    # Organization (the sender of a request, the Patient's GP) is the practice's.
    if to_practice:
        trust_orgs = {(header.get("sender") or {}).get("reference")}
    else:
        trust_orgs = {(d.get("receiver") or {}).get("reference") for d in header.get("destination") or []}

    for entry in entries[1:]:
        res = entry.get("resource") or {}
        kind = res.get("resourceType")
        for ident in res.get("identifier") or []:
            system = canonical_system(ident.get("system"))
            if kind == "Patient" and system == NHS_NUMBER_SYSTEM:
                ident["value"] = known.nhs_number
            elif kind == "Organization" and system == ODS_SYSTEM:
                ident["value"] = known.trust_ods if entry.get("fullUrl") in trust_orgs else known.practice_ods
            elif kind == "Organization" and system == DOS_SYSTEM:
                ident["value"] = known.trust_dos if entry.get("fullUrl") in trust_orgs else known.practice_dos
            elif kind == "HealthcareService":
                ident["value"] = known.service_dos if system == DOS_SYSTEM else known.service_id
        if kind == "Slot" and known.slot_start:
            res["start"], res["end"] = known.slot_start, known.slot_end
            if "id" in res:
                res["id"] = known.slot_id
        if kind == "Appointment" and known.slot_start:
            if "start" in res:
                res["start"] = known.slot_start
            if "end" in res:
                res["end"] = known.slot_end
    return out


class MessageSchema:
    """The spec's MessageBundle schema (`schemas/MessageBundle.yaml`), as jsonschema validates it."""

    def __init__(self, path):
        self.validator = Draft7Validator(yaml.safe_load(path.read_text()), format_checker=FormatChecker())

    def errors(self, bundle: dict) -> list[tuple[str, str]]:
        """(path, message) of each place the Bundle breaks the schema."""
        return [("/".join(str(p) for p in e.absolute_path), e.message[:160])
                for e in self.validator.iter_errors(bundle)]
