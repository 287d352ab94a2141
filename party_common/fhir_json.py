"""FHIR JSON at a service's edge: the response class, reading a body, validating with R4B models."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from party_common.fhir_shape import misplaced_value, null_property
from party_common.messaging import Message, read_message
from party_common.outcome import FhirError, Issue
from party_common.parse_offload import parse_sized

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


def is_resource_type(name: str) -> bool:
    """Whether R4B has a resource of this name (an R4-only one, a datatype or a typo has none)."""
    # No resource name comes near 64 characters; a longer string is neither looked up nor cached, so
    # a sender cannot fill the cache with long names.
    return len(name) <= 64 and _names_r4b_resource(name)


@lru_cache(maxsize=512)
def _names_r4b_resource(name: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except ValueError:
        return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resource_type_issue(root: str, data: Any) -> Issue | None:
    """The first resource inside `data` (entries, contained, parameters...) whose resourceType is not
    a string naming an R4B resource, as an issue naming its element.

    fhir.resources fails on those with a TypeError or KeyError rather than a validation error, so
    they are found here, by walking the JSON in document order.
    """
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if path != root and "resourceType" in value:
                rtype = value["resourceType"]
                if not isinstance(rtype, str) or not is_resource_type(rtype):
                    where = f"{path}.resourceType"
                    what = "is not a string" if not isinstance(rtype, str) else "is not a resource type (FHIR R4B)"
                    return Issue("value", f"{where}: {_shown(rtype)} {what}", [where])
            stack.extend((f"{path}.{k}", v) for k, v in reversed(value.items()) if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value)))
                         if isinstance(v, dict | list))
    return None


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
        raise FhirError(400, "not-supported", f"unknown resourceType {_shown(rtype)}", ["resourceType"]) from exc
    try:
        resource = model.model_validate(data)
    except Exception as exc:
        # Looked for only once validation has failed, so a valid body pays nothing for these.
        issue = resource_type_issue(rtype, data)
        if issue is None and isinstance(exc, ValidationError):
            issues = validation_issues(rtype, exc)
            raise FhirError(400, issues[0].code, issues[0].diagnostics, issues=issues) from exc
        if issue is None:
            # The models fail on some bad input (an object where a url belongs) with a TypeError rather
            # than a validation error; it is still the body that is wrong, never the party.
            issue = misplaced_value(rtype, data, model) or Issue(
                "structure", f"{rtype}: not valid FHIR R4 ({type(exc).__name__})", [rtype])
        raise FhirError(400, issue.code, issue.diagnostics, issues=[issue]) from exc
    # What the models let through (a null as absent, a number as a dateTime) but the parties, reading the
    # JSON as sent, would not.
    issue = null_property(rtype, data) or misplaced_value(rtype, data, model)
    if issue is not None:
        raise FhirError(400, issue.code, issue.diagnostics, issues=[issue])
    return resource


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_fhir_content_type(request: Request) -> None:
    """415 unless the request says it carries FHIR JSON. Also for an operation whose body is optional:
    a POST with no Content-Type, `text/plain` or a form is one a web page may send to another site
    without asking, so only a JSON type keeps a page in the user's browser from invoking it."""
    ctype = _content_type(request)
    if ctype not in _ACCEPTED_TYPES:
        raise FhirError(415, "not-supported", f"content type must be {FHIR_JSON}, got {ctype or 'none'}")


def parse_resource(raw: bytes, expected: str | tuple[str, ...] | None = None) -> tuple[Any, Any]:
    """A body's JSON and its R4B model (FhirError when it is not valid FHIR JSON)."""
    data = parse_json_bytes(raw)
    return data, validate_resource(data, expected)


async def parse_body(request: Request, raw: bytes, expected: str | tuple[str, ...] | None = None) -> tuple[Any, Any]:
    """`parse_resource` for a body this request brought: a large one on a worker thread (parse_offload.py)."""
    return await parse_sized(request, len(raw), parse_resource, raw, expected)


async def read_fhir_body(request: Request, expected: str | tuple[str, ...] | None = None) -> tuple[dict, Any]:
    """Reads and validates a FHIR request body; returns (raw JSON, R4B model)."""
    require_fhir_content_type(request)
    return await parse_body(request, await request.body(), expected)


def parse_message(raw: bytes) -> Message:
    """A `$process-message` body read as a message, its content digest taken: for a large message the
    digest walks the whole Bundle, so it is taken with the parsing, off the loop."""
    data, _ = parse_resource(raw, "Bundle")
    msg = read_message(data)
    msg.content_digest()
    return msg


async def read_message_body(request: Request) -> Message:
    """Reads a `$process-message` body: a valid R4B message Bundle (FhirError naming the fault otherwise)."""
    require_fhir_content_type(request)
    raw = await request.body()
    return await parse_sized(request, len(raw), parse_message, raw)


async def read_json_body(request: Request, empty: Any = None) -> Any:
    """A control request's JSON body (`empty` when there is none), refusing any other content type.

    A web page may send text/plain, a form or no body at all to another site without asking first (a
    CORS "simple request"), so control endpoints that take only JSON cannot be driven from a page.
    """
    ctype = _content_type(request)
    if ctype not in _ACCEPTED_TYPES:
        raise FhirError(415, "not-supported", f"content type must be application/json, got {ctype or 'none'}")
    raw = await request.body()
    if not raw.strip() and empty is not None:
        return empty
    return await parse_sized(request, len(raw), parse_json_bytes, raw)


def to_json(model) -> dict:
    """A model as FHIR JSON (what goes on the wire)."""
    return orjson.loads(model.model_dump_json(exclude_none=True))
