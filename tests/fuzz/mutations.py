"""Seeded mutations of a real JSON message: what a buggy or hostile sender might put on the wire.

`mutate(message, rng)` applies one to three structural changes to a copy of the message (a key
deleted, a value of another type, a value wrapped in an array or object, a huge or deeply nested one,
an entry twice, a wrong resourceType, a reference to nothing...) and, one time in four, breaks the bytes themselves (cut short, invalid
UTF-8, nested past any parser's depth, a second root...). The same `rng` state gives the same mutant.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RESOURCE_TYPES = ["Patient", "Appointment", "Slot", "Bundle", "MessageHeader", "OperationOutcome", "Parameters",
                  "ServiceRequest", "Organization", "HealthcareService"]
NOT_RESOURCE_TYPES = ["", "appointment", "Appointment ", "Apointment", "Coding", "EffectEvidenceSynthesis",
                      "Bundle/1", "X" * 300, 7, None, True, ["Patient"], {"resourceType": "Patient"}]
ODD_STRINGS = ["", " ", "\u0000", "\ud800", "\u202eevil", "😀" * 50, "null", "-1", "1e999", "<x/>", "' OR 1=1 --",
               "urn:uuid:", "a" * 70, "\\", "\n\r\t"]
OTHER_VALUES = [0, -1, 1.5, 2**63, -(2**63) - 1, 10**40, 1e308, -0.0, True, False, None, "", "x", [], {}, [1, "a"],
                {"a": {"b": []}}]


@dataclass
class Mutant:
    body: bytes
    what: list[str]


def _slots(root: Any) -> list[tuple[Any, Any, str]]:
    """(container, key, path) of every value inside `root` (walked iteratively: a mutant
    may already be nested deeper than Python recurses)."""
    out, stack = [], [(root, "$")]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        found = [(node, key, f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]") for key, _ in items]
        out.extend(found)
        stack.extend((container[key], where) for container, key, where in reversed(found))
    return out


def _nested(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice(["deep", 1, None])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"x": value}
    return value


def _huge(rng: random.Random) -> Any:
    kind = rng.randrange(4)
    if kind == 0:
        return "A" * rng.choice((10_000, 100_000, 1_000_000))
    if kind == 1:
        return rng.choice((10**rng.randint(20, 400), -(10**30), 1e308, -1e308, 2**64))
    if kind == 2:
        return [rng.choice(OTHER_VALUES[:8]) for _ in range(rng.choice((1000, 20_000)))]
    return {f"k{i}": i for i in range(rng.choice((1000, 20_000)))}


# Each structural change: (doc, rng) -> (new doc, what it did). A change that finds nothing to act on
# says so and leaves the doc as it was.
def _delete_key(doc, rng):
    dicts = [(c, k, p) for c, k, p in _slots(doc) if isinstance(c, dict)]
    if not dicts:
        return doc, "delete: nothing"
    container, key, path = rng.choice(dicts)
    del container[key]
    return doc, f"delete {path}"


def _replace(doc, rng, make: Callable[[random.Random], Any], label: str):
    slots = _slots(doc)
    if not slots:
        return make(rng), f"{label} at the root"
    container, key, path = rng.choice(slots)
    container[key] = make(rng)
    return doc, f"{label} {path}"


def _retype(doc, rng):
    return _replace(doc, rng, lambda r: copy.deepcopy(r.choice(OTHER_VALUES)), "retype")


def _odd_string(doc, rng):
    return _replace(doc, rng, lambda r: r.choice(ODD_STRINGS), "odd string at")


def _huge_value(doc, rng):
    return _replace(doc, rng, _huge, "huge value at")


def _null(doc, rng):
    return _replace(doc, rng, lambda r: None, "null at")


def _deep(doc, rng):
    return _replace(doc, rng, lambda r: _nested(r, r.choice((50, 200))), "deep nesting at")


def _wrap(doc, rng):
    """A single value made an array or an object: the shape FHIR JSON gets wrong most often."""
    leaves = [(c, k, p) for c, k, p in _slots(doc) if not isinstance(c[k], dict | list)]
    if not leaves:
        return doc, "wrap: nothing"
    container, key, path = rng.choice(leaves)
    container[key] = rng.choice([[container[key]], {"value": container[key]}, {}, []])
    return doc, f"wrap {path}"


def _duplicate_item(doc, rng):
    lists = [(c, k, p) for c, k, p in _slots(doc) if isinstance(c, list)]
    if not lists:
        return doc, "duplicate: nothing"
    container, key, path = rng.choice(lists)
    container.insert(key, copy.deepcopy(container[key]))
    return doc, f"duplicate {path}"


def _resource_type(doc, rng):
    holders = [(c, k, p) for c, k, p in _slots(doc) if k == "resourceType"]
    if not holders:
        return doc, "resourceType: nothing"
    container, key, path = rng.choice(holders)
    container[key] = copy.deepcopy(rng.choice(RESOURCE_TYPES + NOT_RESOURCE_TYPES))
    return doc, f"resourceType {path} = {str(container[key])[:40]!r}"


def _unknown_reference(doc, rng):
    holders = [(c, k, p) for c, k, p in _slots(doc) if k in ("reference", "fullUrl")]
    if not holders:
        return doc, "reference: nothing"
    container, key, path = rng.choice(holders)
    container[key] = rng.choice([f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}", "Patient/no-such-patient",
                                 "#nothing", "", "urn:uuid:not-a-uuid", "http://elsewhere.test/Slot/1"])
    return doc, f"reference {path} = {container[key]!r}"


def _shuffle_entries(doc, rng):
    entries = doc.get("entry") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or len(entries) < 2:
        return doc, "shuffle: nothing"
    rng.shuffle(entries)
    return doc, "shuffle Bundle.entry"


def _other_root(doc, rng):
    return copy.deepcopy(rng.choice([{}, [], "Bundle", None, 0, [doc], {"resourceType": "Bundle"}])), "other root"


STRUCTURAL = [_delete_key, _delete_key, _retype, _retype, _wrap, _wrap, _odd_string, _huge_value, _null, _deep,
              _duplicate_item, _duplicate_item, _resource_type, _resource_type, _unknown_reference,
              _unknown_reference, _shuffle_entries, _other_root]


# Byte-level changes: (raw, rng) -> (new raw, what it did).
def _truncate(raw, rng):
    cut = rng.randrange(len(raw)) if raw else 0
    return raw[:cut], f"truncated to {cut} of {len(raw)} bytes"


def _bad_utf8(raw, rng):
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff"]) + raw[at:], f"invalid UTF-8 at {at}"


def _deep_bytes(raw, rng):
    depth = rng.choice((1000, 100_000))
    return b"[" * depth + raw + b"]" * depth, f"wrapped in {depth} arrays"


def _second_root(raw, rng):
    return raw + rng.choice([b"}", b"{}", b" garbage", b"\x00"]), "trailing bytes"


def _duplicate_key(raw, rng):
    return raw.replace(b"{", b'{"resourceType":"Patient",', 1), "duplicate resourceType key"


def _bom(raw, rng):
    return b"\xef\xbb\xbf" + raw, "UTF-8 byte order mark"


def _empty(raw, rng):
    return b"", "empty body"


BYTES = [_truncate, _truncate, _bad_utf8, _deep_bytes, _second_root, _duplicate_key, _bom, _empty]


def _dumps(doc: Any) -> bytes:
    # json, not orjson: integers past 64 bits and lone surrogates (escaped) are what a sender may send.
    return json.dumps(doc, separators=(",", ":")).encode()


def mutate(message: dict, rng: random.Random) -> Mutant:
    doc, what = copy.deepcopy(message), []
    for _ in range(rng.choice((1, 1, 2, 3))):
        doc, did = rng.choice(STRUCTURAL)(doc, rng)
        what.append(did)
    raw = _dumps(doc)
    if rng.random() < 0.25:
        raw, did = rng.choice(BYTES)(raw, rng)
        what.append(did)
    return Mutant(raw, what)
