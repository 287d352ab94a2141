"""The control routes of a party's OpenAPI document (/health, /clock, the broker's /faults, /journal...):
what they take and answer, as `openapi_doc` does for the FHIR routes.

FastAPI types every answer of theirs as a `string`, gives none a request body (the handlers read
their JSON themselves) and lists no error. Here: a JSON object answers (the Prometheus text of
/metrics), a JSON object body where the handler reads one, and each error the shared code and the
handler answer, as an OperationOutcome.
"""

from __future__ import annotations

from party_common.fhir_json import FHIR_JSON

_JSON_OBJECT = {"type": "object"}
# /faults/reset reads a `seed` from an object and takes any other JSON as no seed.
_RESET = {"properties": {"seed": {"type": ["integer", "null"]}}}

# "METHOD path" -> (the body it reads: "required", "optional" or None, and its schema; the statuses its
# handler raises). Read from the handlers: party_common/clock_routes.py, party_common/links/fault_routes.py.
ROUTES: dict[str, tuple[str | None, dict | None, tuple[int, ...]]] = {
    "POST /clock/advance": ("required", _JSON_OBJECT, (409,)),
    "POST /faults": ("required", _JSON_OBJECT, (422,)),
    "PUT /faults": ("required", _JSON_OBJECT, (422,)),
    "PUT /faults/replay": ("required", _JSON_OBJECT, (422,)),
    "POST /faults/replay/messages": ("required", _JSON_OBJECT, (422,)),
    "PUT /faults/{rule_id}": ("required", _JSON_OBJECT, (404, 422)),
    "DELETE /faults/{rule_id}": (None, None, (404,)),
    "POST /faults/reset": ("optional", _RESET, ()),
    "PUT /delivery": ("required", _JSON_OBJECT, ()),
}
TEXT = {"GET /metrics": "text/plain"}


def control_route(method: str, path: str, operation: dict, outcome) -> None:
    """Rewrites one control route's operation in place; `outcome(status)` is an error's response."""
    key = f"{method.upper()} {path}"
    body, body_schema, raised = ROUTES.get(key, (None, None, ()))
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status[0] != "2":
            continue
        if key in TEXT:
            response["content"] = {TEXT[key]: {"schema": {"type": "string"}}}
        else:  # the media type FastAPI names: the parties answer dicts as FhirResponse
            response["content"] = {t: {"schema": _JSON_OBJECT} for t in response.get("content") or [FHIR_JSON]}
    statuses = set(raised)
    if operation.get("parameters") or body:
        statuses.add(400)      # a parameter FastAPI cannot read, a body that is not JSON or breaks its rules
    if body:
        statuses.add(415)      # JSON only, so a web page cannot send one cross-site without asking
        operation["requestBody"] = {"required": body == "required",
                                    "content": {"application/json": {"schema": body_schema}}}
    if method.lower() != "get":
        statuses.add(401)      # the control token, when the stack has one
    for status in sorted(statuses):
        responses.setdefault(str(status), outcome(status))
