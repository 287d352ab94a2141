"""Checks of a whole message Bundle that JMESPath rules cannot express.

A message profile in rules/messages.yaml names them under `checks:`; each takes the JSON document and
returns what is wrong with it, one line per problem, empty when it holds.

- `references`: every reference in the message resolves to an entry of the Bundle (by `fullUrl`, as
  BaRS writes them: `urn:uuid:...`), to an entry of a type the element may point at (the sender to an
  Organization, a Slot's schedule to a Schedule, ...), and every entry is reachable from the
  MessageHeader (FHIR messaging: a message carries nothing its header does not lead to).
- `bars-schema`: the Bundle validates against BaRS 1.2.0's MessageBundle JSON schema
  (bars_schema/MessageBundle.yaml, vendored unchanged).

Written apart from party_common's reader on purpose: a contract that used the parties' own resolver
would pass whatever that resolver accepts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker

from .data import ROOT

BARS_SCHEMA_DIR = ROOT / "bars_schema"
MESSAGE_BUNDLE_SCHEMA = BARS_SCHEMA_DIR / "MessageBundle.yaml"

# What a reference at (resource type, element path) may point at; a path not listed may point at any
# resource type, as long as it resolves.
TARGETS: dict[tuple[str, str], frozenset[str]] = {
    ("MessageHeader", "sender"): frozenset({"Organization", "Practitioner", "PractitionerRole"}),
    ("MessageHeader", "destination.receiver"): frozenset({"Organization", "Practitioner", "PractitionerRole"}),
    ("MessageHeader", "responsible"): frozenset({"Organization", "Practitioner", "PractitionerRole"}),
    ("MessageHeader", "enterer"): frozenset({"Practitioner", "PractitionerRole"}),
    ("MessageHeader", "author"): frozenset({"Practitioner", "PractitionerRole"}),
    ("Appointment", "slot"): frozenset({"Slot"}),
    ("Appointment", "participant.actor"): frozenset({"Patient", "Practitioner", "PractitionerRole", "RelatedPerson",
                                                     "Device", "HealthcareService", "Location"}),
    ("Appointment", "basedOn"): frozenset({"ServiceRequest"}),
    ("Patient", "generalPractitioner"): frozenset({"Organization", "Practitioner", "PractitionerRole"}),
    ("Patient", "managingOrganization"): frozenset({"Organization"}),
    ("Slot", "schedule"): frozenset({"Schedule"}),
    ("Schedule", "actor"): frozenset({"Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Device",
                                      "HealthcareService", "Location"}),
    ("HealthcareService", "providedBy"): frozenset({"Organization"}),
    ("HealthcareService", "location"): frozenset({"Location"}),
    ("Organization", "partOf"): frozenset({"Organization"}),
}


def _references(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(element path without indices, reference) of every Reference.reference under `value`."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield path, ref
        for key, item in value.items():
            if key in ("reference", "contained"):
                continue  # a contained resource's references resolve inside it, not in the Bundle
            yield from _references(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, path)


def references(doc: Any) -> list[str]:
    """Every reference resolves to an entry (by fullUrl) of a type it may point at; every entry is
    reachable from the MessageHeader."""
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        return ["references: the Bundle has no entries to resolve references in"]
    entries = doc["entry"]
    by_url: dict[str, int] = {}
    problems = []
    for i, entry in enumerate(entries):
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url:
            problems.append(f"references: entry[{i}] has no fullUrl, so nothing can reference it")
        elif url in by_url:
            problems.append(f"references: entry[{i}] repeats the fullUrl of entry[{by_url[url]}] ({url})")
        else:
            by_url[url] = i
    edges: dict[int, set[int]] = {i: set() for i in range(len(entries))}
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(f"references: entry[{i}] has no resource")
            continue
        rtype = resource.get("resourceType")
        for path, ref in _references(resource):
            where = f"entry[{i}].resource.{path}"
            if ref.startswith("#"):
                continue  # a contained resource: not an entry of the Bundle
            target = by_url.get(ref)
            if target is None:
                hint = (" (a relative reference cannot resolve in a Bundle of urn:uuid fullUrls)"
                        if re.fullmatch(r"[A-Z][A-Za-z]+/[^/]+", ref) else "")
                problems.append(f"references: {where} = {ref!r} resolves to no entry of the Bundle{hint}")
                continue
            edges[i].add(target)
            allowed = TARGETS.get((rtype, path)) if rtype else None
            got = ((entries[target] or {}).get("resource") or {}).get("resourceType")
            if allowed and got not in allowed:
                problems.append(f"references: {where} points at a {got} (entry[{target}]), expected "
                                f"{' or '.join(sorted(allowed))}")
    if entries and ((entries[0] or {}).get("resource") or {}).get("resourceType") == "MessageHeader":
        seen, todo = {0}, [0]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        for i in range(len(entries)):
            if i not in seen:
                rtype = ((entries[i] or {}).get("resource") or {}).get("resourceType")
                problems.append(f"references: entry[{i}] ({rtype}) is not reachable from the MessageHeader")
    return problems


# -- the BaRS MessageBundle schema -----------------------------------------------------------------

def _date_time(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _formats() -> FormatChecker:
    """The formats the schema names, checked the same on every machine (jsonschema's own date-time
    check depends on an optional package); `url` is not a JSON Schema format and is not checked."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("date")(_date)
    checker.checks("uuid")(_uuid)
    return checker


@cache
def message_bundle_validator() -> Draft7Validator:
    schema = yaml.safe_load(MESSAGE_BUNDLE_SCHEMA.read_text())
    return Draft7Validator(schema, format_checker=_formats())


def bars_schema(doc: Any) -> list[str]:
    """The Bundle against BaRS 1.2.0's MessageBundle schema, one line per violation."""
    errors = sorted(message_bundle_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    out = []
    for e in errors:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path).lstrip(".") or "$"
        message = e.message if len(e.message) <= 120 else e.message[:117] + "..."
        out.append(f"bars-schema: {where}: {message}")
    return out


CHECKS: dict[str, Callable[[Any], list[str]]] = {"references": references, "bars-schema": bars_schema}
