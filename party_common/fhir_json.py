"""FHIR JSON at a service's edge: the response class, reading a body, validating with R4B models."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from .outcome import FhirError, Issue

FHIR_JSON = "application/fhir+json"
_ACCEPTED_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")

T = TypeVar("T")


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def is_fhir_path(path: str) -> bool:
    """Whether a path is in FHIR's REST grammar: a resource type (capitalised), an `$operation` or
    `metadata`, under an optional tenant base (`/RT1/Slot`). The parties' other routes (/health,
    /metrics, /clock, the broker's /faults, /journal...) are lower-case words, so this one rule tells
    them apart before routing, for every party alike."""
    return any(seg[:1].isupper() or seg[:1] == "$" or seg == "metadata" for seg in path.split("/"))


def loc_to_expression(root: str, loc: tuple) -> str:
    """Turns a pydantic error location into a FHIRPath-like expression: Bundle.entry[1].resource.x."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str):
            # pydantic reports union and discriminated members under their type name; FHIRPath does not.
            if part.endswith("Type") and part[:1].isupper():
                continue
            out += f".{part}"
    return out


def validation_issues(root: str, exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors()[:20]:
        expression = loc_to_expression(root, tuple(err.get("loc", ())))
        kind = err.get("type", "")
        code = "required" if "missing" in kind else "structure" if "extra" in kind else "value"
        issues.append(Issue(code, f"{expression}: {err.get('msg', 'invalid')}", [expression]))
    return issues or [Issue("invalid", f"invalid {root}", [root])]


def parse_json_bytes(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FhirError(400, "structure", f"body is not valid JSON: {exc}") from exc


def validate_resource(data: Any, expected: str | tuple[str, ...] | None = None):
    """Validates a JSON object as a FHIR R4 resource; returns the R4B model instance."""
    if not isinstance(data, dict):
        raise FhirError(400, "structure", "body must be a JSON object holding a FHIR resource")
    rtype = data.get("resourceType")
    if not isinstance(rtype, str):
        raise FhirError(400, "required", "resourceType is missing", ["resourceType"])
    allowed = (expected,) if isinstance(expected, str) else expected
    if allowed and rtype not in allowed:
        raise FhirError(400, "invalid", f"expected {' or '.join(allowed)}, got {rtype}", ["resourceType"])
    try:
        model = get_fhir_model_class(rtype)
    except ValueError as exc:
        raise FhirError(400, "not-supported", f"unknown resourceType {rtype!r}", ["resourceType"]) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues = validation_issues(rtype, exc)
        raise FhirError(400, issues[0].code, issues[0].diagnostics, issues=issues) from exc


async def read_fhir_body(request: Request, expected: str | tuple[str, ...] | None = None) -> tuple[dict, Any]:
    """Reads and validates a FHIR request body; returns (raw JSON, R4B model)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in _ACCEPTED_TYPES:
        raise FhirError(415, "not-supported", f"content type must be {FHIR_JSON}, got {ctype or 'none'}")
    data = parse_json_bytes(await request.body())
    return data, validate_resource(data, expected)


def to_json(model) -> dict:
    """A model as FHIR JSON (what goes on the wire)."""
    return orjson.loads(model.model_dump_json(exclude_none=True))
