"""The FHIR R4 invariants of a CapabilityStatement, one rule per invariant, as data.

Each rule is FHIR's key, severity and human text (R4, 4.0.1: capabilitystatement.html and the
DomainResource and Element invariants every resource carries), the element FHIR defines it on, FHIR's
FHIRPath expression (for the reader: nothing here evaluates FHIRPath) and a Python predicate that says
the same of the JSON. A rule defined on a repeating element (cpb-9 on each `rest`, cpb-12 on each
`rest.resource`) holds when it holds at every one.

`violations(statement)` lists the rules a statement breaks; `structure_errors(statement)` what
fhir.resources' R4B model refuses (cardinality, types, elements R4 does not have, such as STU3's
`acceptUnknown`). Neither uses party_common: a check built on the parties' own builder would pass
whatever that builder writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from pydantic import ValidationError

Json = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    key: str
    severity: Literal["error", "warning"]
    context: str
    text: str
    expression: str
    holds: Callable[[Json], bool]


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _at(statement: Json, context: str) -> Iterator[Json]:
    """The elements at a dotted path (`rest.resource`), through every repetition."""
    found: list = [statement]
    for step in context.split(".")[1:]:
        found = [item for element in found if isinstance(element, dict) for item in _list(element.get(step))]
    return (element for element in found if isinstance(element, dict))


def _distinct(values: list) -> bool:
    return len(values) == len({repr(v) for v in values})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _contained(statement: Json) -> list[Json]:
    return [c for c in _list(statement.get("contained")) if isinstance(c, dict)]


# FHIRPath's matches() finds the pattern anywhere in the string; R5 anchors this same pattern
# (^...$) because an unanchored one passes any name with a capital letter in it. The anchored reading
# is what the text asks for: a name usable as an identifier.
_NAME = re.compile(r"[A-Z][A-Za-z0-9_]{0,254}")


def _name_is_identifier(cs: Json) -> bool:
    return "name" not in cs or (isinstance(cs["name"], str) and _NAME.fullmatch(cs["name"]) is not None)


def _contained_is_referenced(cs: Json) -> bool:
    # Any string equal to `#id` counts for FHIR's reference | canonical | uri | url: JSON does not
    # say which strings are of those types.
    everywhere = set(_strings(cs))
    return all(f"#{c.get('id')}" in everywhere or any(r.get("reference") == "#" for r in _references(c))
               for c in _contained(cs))


def _references(value: Any) -> Iterator[Json]:
    if isinstance(value, dict):
        if "reference" in value:
            yield value
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _has_content(value: Any) -> bool:
    """FHIR JSON's reading of ele-1: no empty object, array or string, and no null but the one that
    keeps a repeating primitive's place for its `_element` partner (`"given": [null, "B"]` beside
    `"_given": [{...}, null]`)."""
    if isinstance(value, dict):
        return bool(value) and all(_member_has_content(value, key) for key in value)
    if isinstance(value, list):
        return bool(value) and all(item is None or _has_content(item) for item in value)
    return value is not None and value != ""


def _member_has_content(parent: Json, key: str) -> bool:
    value = parent[key]
    if isinstance(value, list):
        partner = parent.get(key[1:] if key.startswith("_") else f"_{key}")
        partners = partner if isinstance(partner, list) else []
        if any(item is None and (i >= len(partners) or partners[i] is None) for i, item in enumerate(value)):
            return False
    return _has_content(value)


def _extensions_have_value_or_children(value: Any) -> bool:
    if isinstance(value, dict):
        for k, item in value.items():
            if k in ("extension", "modifierExtension"):
                for ext in _list(item):
                    if isinstance(ext, dict) and ("extension" in ext) == any(n.startswith("value") for n in ext):
                        return False
            if not _extensions_have_value_or_children(item):
                return False
        return True
    if isinstance(value, list):
        return all(_extensions_have_value_or_children(v) for v in value)
    return True


RULES: tuple[Rule, ...] = (
    Rule("cpb-0", "warning", "CapabilityStatement",
         "Name should be usable as an identifier for the module by machine processing applications such as "
         "code generation",
         "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')",
         _name_is_identifier),
    Rule("cpb-1", "error", "CapabilityStatement",
         "A Capability Statement SHALL have at least one of REST, messaging or document element.",
         "rest.exists() or messaging.exists() or document.exists()",
         lambda cs: any(_list(cs.get(k)) for k in ("rest", "messaging", "document"))),
    Rule("cpb-2", "error", "CapabilityStatement",
         "A Capability Statement SHALL have at least one of description, software, or implementation element.",
         "(description.count() + software.count() + implementation.count()) > 0",
         lambda cs: any(k in cs for k in ("description", "software", "implementation"))),
    Rule("cpb-3", "error", "CapabilityStatement",
         "Messaging end-point is required (and is only permitted) when a statement is for an implementation.",
         "messaging.endpoint.empty() or kind = 'instance'",
         lambda cs: not list(_at(cs, "CapabilityStatement.messaging.endpoint")) or cs.get("kind") == "instance"),
    Rule("cpb-7", "error", "CapabilityStatement",
         "The set of documents must be unique by the combination of profile and mode.",
         "document.select(profile&mode).isDistinct()",
         lambda cs: _distinct([(d.get("profile"), d.get("mode")) for d in _at(cs, "CapabilityStatement.document")])),
    Rule("cpb-9", "error", "CapabilityStatement.rest",
         "A given resource can only be described once per RESTful mode.",
         "resource.select(type).isDistinct()",
         lambda rest: _distinct([r.get("type") for r in _list(rest.get("resource")) if isinstance(r, dict)])),
    Rule("cpb-12", "error", "CapabilityStatement.rest.resource",
         "Search parameter names must be unique in the context of a resource.",
         "searchParam.select(name).isDistinct()",
         lambda res: _distinct([p.get("name") for p in _list(res.get("searchParam")) if isinstance(p, dict)])),
    Rule("cpb-14", "error", "CapabilityStatement",
         "If kind = instance, implementation must be present and software may be present",
         "(kind != 'instance') or implementation.exists()",
         lambda cs: cs.get("kind") != "instance" or "implementation" in cs),
    Rule("cpb-15", "error", "CapabilityStatement",
         "If kind = capability, implementation must be absent, software must be present",
         "(kind != 'capability') or (implementation.exists().not() and software.exists())",
         lambda cs: cs.get("kind") != "capability" or ("implementation" not in cs and "software" in cs)),
    Rule("cpb-16", "error", "CapabilityStatement",
         "If kind = requirements, implementation and software must be absent",
         "(kind!='requirements') or (implementation.exists().not() and software.exists().not())",
         lambda cs: cs.get("kind") != "requirements" or not ({"implementation", "software"} & set(cs))),
    Rule("dom-2", "error", "CapabilityStatement",
         "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
         "contained.contained.empty()",
         lambda cs: not any(c.get("contained") for c in _contained(cs))),
    Rule("dom-3", "error", "CapabilityStatement",
         "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
         "resource or SHALL refer to the containing resource",
         "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) "
         "| %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference "
         "= '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) "
         "= '#').exists()).not()).trace('unmatched', id).empty()",
         _contained_is_referenced),
    Rule("dom-4", "error", "CapabilityStatement",
         "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a meta.lastUpdated",
         "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
         lambda cs: not any({"versionId", "lastUpdated"} & set(c.get("meta") or {}) for c in _contained(cs))),
    Rule("dom-5", "error", "CapabilityStatement",
         "If a resource is contained in another resource, it SHALL NOT have a security label",
         "contained.meta.security.empty()",
         lambda cs: not any((c.get("meta") or {}).get("security") for c in _contained(cs))),
    Rule("dom-6", "warning", "CapabilityStatement",
         "A resource should have narrative for robust management",
         "text.`div`.exists()",
         lambda cs: isinstance(cs.get("text"), dict) and "div" in cs["text"]),
    Rule("ele-1", "error", "CapabilityStatement",
         "All FHIR elements must have a @value or children",
         "hasValue() or (children().count() > id.count())",
         _has_content),
    Rule("ext-1", "error", "CapabilityStatement",
         "Must have either extensions or value[x], not both",
         "extension.exists() != value.exists()",
         _extensions_have_value_or_children),
)


def violations(statement: Json) -> list[tuple[str, str]]:
    """(key, FHIR's text) of every rule the statement breaks, warnings included, in the table's order."""
    return [(rule.key, rule.text) for rule in RULES
            if not all(rule.holds(element) for element in _at(statement, rule.context))]


def structure_errors(statement: Json) -> list[str]:
    """What fhir.resources' R4B CapabilityStatement model refuses, one line per error."""
    try:
        CapabilityStatement.model_validate(statement)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
    return []
