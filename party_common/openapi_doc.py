"""A FHIR party's OpenAPI document, rewritten to say what the party really takes and answers.

FastAPI documents a route from its Python signature, and the parties' FHIR handlers read their bodies
themselves (`read_fhir_body`) and answer `FhirResponse`s. So what it generates types every 200 body as
`string`, gives `$process-message` no request body, documents 422 with its own HTTPValidationError
(create_party_app answers a request it cannot validate with a 400 OperationOutcome) and knows nothing
of the statuses the shared middleware and the handlers answer. `fhir_openapi` rewrites that document:
FHIR schemas under components, FHIR bodies on every FHIR route (`is_fhir_path`), and every error
status a route can answer, each an OperationOutcome. Query parameters are kept as the routes declare
them.
"""

from __future__ import annotations

import copy
import datetime
import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel

from party_common.control_doc import control_route
from party_common.fhir_json import FHIR_JSON, is_fhir_path
from party_common.fhir_shape import element_model, unwrap
from party_common.ndjson import NDJSON

REF = "#/components/schemas/"

# The elements each FHIR schema spells out, as FHIR paths (with `id`, `meta` and every element R4
# requires). Their types, cardinality and code lists come from the R4B models, and any other element
# is allowed: the schemas hold of what the parties send without copying FHIR's own.
SHOWN: dict[str, tuple[str, ...]] = {
    "Bundle": ("type", "total", "link.relation", "link.url", "entry.fullUrl", "entry.resource",
               "entry.search.mode"),
    "OperationOutcome": ("issue.severity", "issue.code", "issue.details", "issue.diagnostics", "issue.expression"),
    "Parameters": ("parameter.name", "parameter.resource"),
    "CapabilityStatement": ("status", "kind", "fhirVersion", "format", "implementation", "rest.mode",
                            "rest.resource.type", "rest.resource.interaction", "rest.resource.searchParam",
                            "rest.operation", "messaging"),
    "Appointment": ("identifier", "status", "start", "end", "slot", "participant.actor", "participant.status"),
    "Slot": ("schedule", "status", "start", "end"),
    "Schedule": ("actor", "active"),
    "HealthcareService": ("identifier", "active", "providedBy", "type", "name"),
    "Organization": ("identifier", "name"),
    "Location": ("identifier", "status", "name", "managingOrganization"),
    "Patient": ("identifier", "name", "gender", "birthDate"),
    "ServiceRequest": ("identifier", "status", "intent", "code", "subject"),
}

# fhir.resources reads this element's code list out of its short description ("xml | json | ttl |
# mime"); R4 binds it to MIME types, which is what every CapabilityStatement of ours lists.
_NOT_CODE_LISTS = {"CapabilityStatement.format"}

_PRIMITIVES = ((bool, "boolean"), (int, "integer"), (decimal.Decimal, "number"), (float, "number"),
               (str, "string"), (datetime.date, "string"), (datetime.time, "string"))


def _value_schema(item, where: str, shown: set[str]) -> dict:
    """The schema of one value of element `where` (of R4B type `item`): a JSON primitive, any
    resource, an object whose shown elements are spelled out, or any object."""
    for cls, json_type in _PRIMITIVES:
        if isinstance(item, type) and issubclass(item, cls):
            return {"type": json_type}
    model = element_model(item)
    if model is not None and issubclass(model, Resource):
        return {"$ref": f"{REF}FhirResource"}
    if model is not None and any(s.startswith(f"{where}.") for s in shown):
        return _element(where, model, shown)
    return {"type": "object"}


def _element(path: str, model: type[BaseModel], shown: set[str]) -> dict:
    """The schema of an element of FHIR path `path` (R4B model `model`): its shown and required
    elements spelled out, anything else allowed."""
    properties, required = {}, []
    for field in model.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        where = f"{path}.{field.alias}"
        needed = field.is_required() or bool(extra.get("element_required"))
        if not extra.get("element_property") or not (needed or where in shown or
                                                      any(s.startswith(f"{where}.") for s in shown)):
            continue
        is_list, item = unwrap(field.annotation)
        schema = _value_schema(item, where, shown)
        enum_values = extra.get("enum_values")
        if isinstance(enum_values, list) and enum_values and where not in _NOT_CODE_LISTS:
            schema["enum"] = list(enum_values)
        if is_list:
            schema = {"type": "array", "items": schema, **({"minItems": 1} if needed else {})}
        properties[field.alias] = schema
        if needed:
            required.append(field.alias)
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def resource_schema(resource_type: str) -> dict:
    """A JSON schema of a FHIR R4 resource: the elements SHOWN and required, any other allowed."""
    shown = {f"{resource_type}.{p}" for p in ("id", "meta", *SHOWN.get(resource_type, ()))}
    schema = _element(resource_type, get_fhir_model_class(resource_type), shown)
    schema["properties"] = {"resourceType": {"const": resource_type}, **schema["properties"]}
    schema["required"] = ["resourceType", *schema.get("required", ())]
    return schema


FHIR_RESOURCE = {
    "type": "object", "required": ["resourceType"], "description": "Any FHIR R4 resource",
    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}, "meta": {"type": "object"}},
}


def fhir_schemas(resource_types) -> dict[str, dict]:
    """FhirResource, OperationOutcome (every error) and the schemas of `resource_types`."""
    return {"FhirResource": FHIR_RESOURCE,
            **{t: resource_schema(t) for t in sorted({"OperationOutcome", *resource_types} - {"FhirResource"})}}


# What each error status means, answered everywhere as an OperationOutcome.
ERRORS: dict[int, str] = {
    400: "The request is malformed: a parameter, header or body this party refuses (`expression` names it)",
    401: "A control request without the stack's control token (TESTBED_CONTROL_TOKEN), when it has one",
    404: "No such resource, tenant or endpoint",
    406: "The Accept header allows nothing this party answers in",
    409: "Conflicts with what the party holds: a message id used before for other content, a slot or "
         "booking taken",
    413: "The body is larger than this party takes",
    415: "The body is not application/fhir+json (or application/json)",
    422: "Valid FHIR that breaks a business rule (an unknown patient, an event not handled here...)",
    500: "An internal error (a bug), answered without a stack trace",
    502: "The party behind answered something unusable",
    503: "A party this one needs cannot be reached, or is not answering now: the request may be sent again",
    504: "The party behind did not answer in time",
}


@dataclass(frozen=True)
class Operation:
    """What an `$operation` takes and answers, read from its handlers."""

    answer: str                   # the schema of its 200 body, or NDJSON
    description: str
    body: str | None = None       # the schema of its request body
    body_required: bool = True


_RESPONSE_MESSAGE = "the response message (a Bundle of type message), its MessageHeader.response naming the request"
OPERATIONS: dict[str, Operation] = {
    "process-message": Operation("Bundle", _RESPONSE_MESSAGE, "Bundle"),
    "allocate-ubrn": Operation("Parameters", "Parameters holding the UBRN (`ubrn`, a valueIdentifier)", "Parameters"),
    "resend": Operation("Parameters", "Parameters saying what became of the delivery (`outcome`, `delivered`, "
                        "`status`)", "Parameters"),
    "rebook": Operation("Parameters", "Parameters saying what became of the delivery and where the booking "
                        "is now (`outcome`, `delivered`, `status`, `slot`, `start`, `movedFrom`)"),
    # The GP system's, each answered with the broker's response message.
    "book": Operation("Bundle", _RESPONSE_MESSAGE, "Parameters"),
    "cancel": Operation("Bundle", _RESPONSE_MESSAGE, "Parameters", body_required=False),
    "refer": Operation("Bundle", _RESPONSE_MESSAGE, "Parameters"),
    "export": Operation(NDJSON, "every resource, one a line (NDJSON), streamed"),
}

# Statuses a handler (or what it calls) raises beyond the rule of `error_statuses`, read from the
# handlers; keyed by the party's name in create_party_app and the route as FastAPI documents it.
# The broker, as a proxy, also passes on what the party behind it answered.
RAISED: dict[str, dict[str, tuple[int, ...]]] = {
    "booking_broker": {
        "POST /$process-message": (404, 409, 422, 502, 503, 504),
        "POST /Appointment/{ubrn}/$resend": (422,),
        "POST /Appointment/{ubrn}/$rebook": (409, 422, 503),
        "GET /HealthcareService": (503,),
        "GET /Slot": (404, 503),
    },
    "spine_mock": {
        "POST /$process-message": (409, 422),
        "POST /$allocate-ubrn": (409, 422),
    },
    "trust_pas": {
        "POST /{ods}/$process-message": (409, 422, 503),
    },
    "gp_system": {
        "POST /{ods}/$process-message": (409, 422),
        "POST /{ods}/ServiceRequest": (422, 503),
        "POST /{ods}/ServiceRequest/{referral_id}/$book": (409, 422, 503),
        "POST /{ods}/ServiceRequest/{referral_id}/$refer": (409, 422, 503),
        "POST /{ods}/Appointment/{booking_ref}/$cancel": (409, 422, 503),
    },
}


@dataclass(frozen=True)
class Interaction:
    """A FHIR route's interaction: what it answers (and with which status), and what body it takes."""

    answer: str
    status: str = "200"
    body: str | None = None
    body_required: bool = False
    description: str = "a FHIR resource"


def interaction(method: str, path: str) -> Interaction:
    """The interaction a FHIR route stands for, from its method and the shape of its path."""
    segments = path.strip("/").split("/")
    last, before = segments[-1], segments[-2] if len(segments) > 1 else ""
    if last.startswith("$"):
        op = OPERATIONS.get(last[1:], Operation("FhirResource", f"what {last} answers"))
        return Interaction(op.answer, body=op.body, body_required=op.body is not None and op.body_required,
                           description=op.description)
    if last == "metadata":
        return Interaction("CapabilityStatement", description="the CapabilityStatement")
    if last[:1].isupper() and method == "post":
        return Interaction(last, "201", body=last, body_required=True, description=f"a created {last}")
    if last[:1].isupper():
        return Interaction("Bundle", description=f"a searchset Bundle of {last}")
    if last.startswith("{") and before[:1].isupper():
        return Interaction(before, description=f"the {before}")
    return Interaction("FhirResource")


def _is_validation_error(response: dict) -> bool:
    return "HTTPValidationError" in str(response.get("content"))


def _outcome(description: str) -> dict:
    return {"description": description, "content": {FHIR_JSON: {"schema": {"$ref": f"{REF}OperationOutcome"}}}}


def error_statuses(party: str, method: str, path: str, body: bool, declared: Iterable[int]) -> set[int]:
    """What a FHIR route can answer with an OperationOutcome: 400 (a parameter or header refused),
    406 (the Accept check of every FHIR path) and 500 everywhere; 404 where the path names a tenant
    or a resource; 413 and 415 where it takes a body; what its handler raises (RAISED), and what the
    route itself declares."""
    statuses = {400, 406, 500, *RAISED.get(party, {}).get(f"{method.upper()} {path}", ()), *declared}
    if "{" in path:
        statuses.add(404)
    if body:
        statuses |= {413, 415}
    return statuses


def _fhir_route(party: str, method: str, path: str, operation: dict) -> set[str]:
    """Rewrites one FHIR route's operation in place; returns the schemas it names."""
    it = interaction(method, path)
    responses = operation.setdefault("responses", {})
    for status in ("200", "201"):
        responses.pop(status, None)
    if _is_validation_error(responses.get("422", {})):
        del responses["422"]
    answer = {NDJSON: {"schema": {"type": "string"}}} if it.answer == NDJSON else \
        {FHIR_JSON: {"schema": {"$ref": f"{REF}{it.answer}"}}}
    responses[it.status] = {"description": it.description, "content": answer}
    if it.status == "201":
        responses[it.status]["headers"] = {
            "Location": {"description": "where the created resource can be read", "schema": {"type": "string"}}}
    if it.body:
        body = {"schema": {"$ref": f"{REF}{it.body}"}}
        operation["requestBody"] = {"required": it.body_required,
                                    "content": {FHIR_JSON: body, "application/json": body}}
    # A status the route declares itself keeps its description.
    declared = {int(s): r.get("description") for s, r in responses.items() if s[0] in "45"}
    for code in sorted(error_statuses(party, method, path, it.body is not None, declared)):
        responses[str(code)] = _outcome(declared.get(code) or ERRORS.get(code, "An error"))
    return {name for name in (it.answer, it.body) if name and name != NDJSON}


def rewrite(doc: dict, party: str) -> dict:
    """FastAPI's document of a party made true of its FHIR API (changed in place, and returned)."""
    named: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if is_fhir_path(path):
                named |= _fhir_route(party, method, path, operation)
                continue
            # A control route's request that cannot be validated is a 400 OperationOutcome too.
            responses = operation.get("responses", {})
            if _is_validation_error(responses.get("422", {})):
                del responses["422"]
                responses["400"] = _outcome(ERRORS[400])
            control_route(method, path, operation, lambda status: _outcome(ERRORS[status]))
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(fhir_schemas(named))
    return doc


def fhir_openapi(generate: Callable[[], dict], party: str) -> Callable[[], dict]:
    """An `app.openapi` answering the rewritten form of what `generate` (FastAPI's own) answers,
    rewritten again only when FastAPI generates anew (its routes changed)."""
    seen: dict | None = None
    rewritten: dict = {}

    def openapi() -> dict:
        nonlocal seen, rewritten
        source = generate()
        if seen is not source:
            seen, rewritten = source, rewrite(copy.deepcopy(source), party)
        return rewritten

    return openapi
