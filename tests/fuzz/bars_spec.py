"""The BaRS OpenAPI spec as schemathesis can load it, and the operations of it a party declares.

The published file points outside itself: its component schemas at `schemas/*.yaml` beside it, and
its examples at `examples/...`, which the published bundle keeps without the `examples/` folder. Both
are read in here; an example whose file is missing is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SPEC_FILE = "booking-and-referral.yaml"


def _example(reference: Path, ref: str) -> Any | None:
    path = reference / ref.removeprefix("examples/")
    return json.loads(path.read_text()) if path.is_file() else None


def _inline_examples(node: Any, reference: Path) -> Any:
    """Every `example: {$ref: examples/...}` replaced by the file it names (or removed)."""
    if isinstance(node, list):
        return [_inline_examples(item, reference) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "example" and isinstance(value, dict) and set(value) == {"$ref"}:
            found = _example(reference, value["$ref"])
            if found is not None:
                out[key] = found
            continue
        out[key] = _inline_examples(value, reference)
    return out


def _sendable_example(parameter: dict) -> None:
    """A header's example as a client can send it: the spec's Accept example is
    `'application/fhir+json; version=1.0.0'` with its quotes and a trailing newline."""
    schema = parameter.get("schema", {})
    if parameter.get("in") == "header" and isinstance(schema.get("example"), str):
        schema["example"] = schema["example"].strip().strip("'")


def bars_spec(reference: Path) -> dict | None:
    """The spec with its external references read in; None when the reference files are not there."""
    path = reference / SPEC_FILE
    if not path.is_file():
        return None
    doc = _inline_examples(yaml.safe_load(path.read_text()), reference)
    for parameter in doc["components"]["parameters"].values():
        _sendable_example(parameter)
    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        ref = schema.get("$ref", "")
        if not ref.startswith("#"):
            schemas[name] = yaml.safe_load((reference / ref).read_text())
    return doc


def json_only(doc: dict) -> dict:
    """The spec with its `application/fhir+xml` bodies left out: every party here speaks FHIR JSON only,
    as its CapabilityStatement's `format` says, and answers XML with a 415 or 406."""
    for item in doc["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            holders = [operation.get("requestBody", {}), *operation.get("responses", {}).values()]
            for holder in holders:
                holder.get("content", {}).pop("application/fhir+xml", None)
    return doc


def declared_operations(statement: dict) -> set[tuple[str, str]]:
    """(METHOD, spec path) of each BaRS operation a CapabilityStatement declares: /metadata always,
    `read` and `search-type` of each resource, and $process-message where it declares the operation."""
    out = {("GET", "/metadata")}
    for rest in statement.get("rest", []):
        for resource in rest.get("resource", []):
            kind = resource["type"]
            codes = {i["code"] for i in resource.get("interaction", [])}
            if "search-type" in codes:
                out.add(("GET", f"/{kind}"))
            if "read" in codes:
                out.add(("GET", f"/{kind}/{{id}}"))
        if any(op.get("name") == "process-message" for op in rest.get("operation", [])):
            out.add(("POST", "/$process-message"))
    return out
