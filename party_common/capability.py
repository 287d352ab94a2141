"""A party's CapabilityStatement (`GET [base]/metadata`), written to pass R4's invariants
(contracts/capability_rules.py checks every party's).

Each statement is of `kind` `instance`: it describes one running installation, which R4 (cpb-14)
says must then carry `implementation`. Where the party knows the base it is reached at (its
`public_url`, the one it gives the other parties), that base is `implementation.url`, the statement's
`url` and its messaging endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from party_common.messaging import SOFTWARE, VERSION, definition

MESSAGE_TRANSPORT = "http://terminology.hl7.org/CodeSystem/message-transport"
FORMATS = ["application/fhir+json", "json"]
# $process-message is FHIR's own operation; the others ($book, $cancel, $allocate-ubrn ...) are the
# testbed's, and a canonical under hl7.org would claim FHIR defines them.
HL7_OPERATIONS = {"process-message": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"}
OPERATION_BASE = "https://fhir.nhs-interop-testbed.invalid/OperationDefinition/"


def _operation(op: str) -> dict:
    return {"name": op, "definition": HL7_OPERATIONS.get(op, OPERATION_BASE + op)}


def _resource(res: dict) -> dict:
    item: dict[str, Any] = {"type": res["type"]}
    if res.get("interactions"):
        item["interaction"] = [{"code": code} for code in res["interactions"]]
    if res.get("search"):
        item["searchParam"] = [{"name": n, "type": t} for n, t in res["search"].items()]
    if res.get("operations"):
        item["operation"] = [_operation(op) for op in res["operations"]]
    return item


def _machine_name(title: str) -> str:
    """`trust_pas RT1` -> `TrustPasRT1`: R4's cpb-0 asks for a name code generators can use."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", title))


def _narrative(title: str, rest: dict, receives: Sequence[str], sends: Sequence[str]) -> dict:
    resources = "; ".join(f"{r['type']} ({', '.join(i['code'] for i in r.get('interaction', []))})"
                          for r in rest.get("resource", []))
    lines = [title, f"Resources: {resources or 'none'}",
             f"Operations: {', '.join('$' + op['name'] for op in rest.get('operation', [])) or 'none'}"]
    if receives:
        lines.append(f"Receives messages: {', '.join(receives)}")
    if sends:
        lines.append(f"Sends messages: {', '.join(sends)}")
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'}


def _messaging(receives: Sequence[str], sends: Sequence[str], endpoints: Sequence[str]) -> dict:
    section: dict[str, Any] = {}
    if endpoints:
        section["endpoint"] = [{"protocol": {"system": MESSAGE_TRANSPORT, "code": "http"}, "address": address}
                               for address in endpoints]
    section["supportedMessage"] = (
        [{"mode": "receiver", "definition": definition(event)} for event in receives]
        + [{"mode": "sender", "definition": definition(event)} for event in sends])
    return section


def capability_statement(name: str, resources: Sequence[dict], operations: Sequence[str], *,
                         base: str | None = None, description: str | None = None,
                         receives: Sequence[str] = (), sends: Sequence[str] = (),
                         endpoints: Sequence[str] | None = None, rest_resources: Sequence[dict] = ()) -> dict:
    """A server CapabilityStatement.

    `resources` items hold `type`, `interactions`, `search` (name -> type) and `operations`;
    `rest_resources` are entries already in `rest.resource` shape (searchParam, searchInclude,
    interaction ...), as a search layer that knows its parameters writes them. A type in both is an
    error, not a merge: R4 allows one entry per type (cpb-9), and which half to keep is for the caller.

    `receives` and `sends` are BaRS event codes (MessageHeader.eventCoding), declared by the
    MessageDefinition our messages name. `endpoints` are where the messages are received: `base` unless
    the party receives them at other addresses (one per hosted practice or trust).
    """
    base = base.rstrip("/") if base else None
    addresses = endpoints if endpoints is not None else [base] if base else []
    rest_items = [_resource(res) for res in resources] + [dict(entry) for entry in rest_resources]
    types = [item["type"] for item in rest_items]
    if len(types) != len(set(types)):
        twice = sorted({t for t in types if types.count(t) > 1})
        raise ValueError(f"{name}: resource types described twice: {twice}")
    rest: dict[str, Any] = {"mode": "server"}
    if rest_items:
        rest["resource"] = rest_items
    if operations:
        rest["operation"] = [_operation(op) for op in operations]
    implementation: dict[str, Any] = {"description": description or f"{SOFTWARE} {name}"}
    if base:
        implementation["url"] = base
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "text": _narrative(name, rest, receives, sends),
        **({"url": f"{base}/metadata"} if base else {}),
        "name": _machine_name(name),
        "title": name,
        "status": "active",
        "date": datetime.now(timezone.utc).date().isoformat(),
        "kind": "instance",
        "software": {"name": f"{SOFTWARE} {name}", "version": VERSION},
        "implementation": implementation,
        "fhirVersion": "4.0.1",
        "format": list(FORMATS),
        "rest": [rest],
    }
    if receives or sends:
        statement["messaging"] = [_messaging(receives, sends, addresses)]
    return statement
