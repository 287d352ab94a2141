"""How schemathesis's positive_data_acceptance and negative_data_rejection are judged here.

- A refusal of a schema-valid request is right where the request breaks a rule its OpenAPI document
  cannot state, or (KNOWN_GAPS) one the document could state but does not yet.
- An acceptance of a "schema-violating" query is right where the query, as the server reads it, is
  valid: FHIR ignores a parameter given no value, and every query value is text, so a number or
  `null` generated for a string parameter arrives as a valid string.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import jsonschema
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData

# positive_data_acceptance's defaults (a 5xx is not_a_server_error's to judge). An operation taking a
# body may also refuse a schema-valid one: a FHIR resource's rules (invariants, references that
# resolve, a message's structure) and a control body's (a fault rule's) go beyond a JSON schema, so a
# body may still be invalid (400) or break a business rule (422).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
BODY_REFUSALS = ["400", "422"]

# Other refusals (400) of a schema-valid request that are right, told by their OperationOutcome's
# diagnostics: the request breaks a rule its document cannot state.
BEYOND_SCHEMA = {
    "a Slot search names its service": "a Slot search names its service by one of several parameters or the "
                                       "NHSD-Target-Identifier header, a rule across parameters OpenAPI cannot state",
    "is not an NHS number": "an NHS number's Modulus 11 check digit",
    "is not a valid date": "a date its pattern admits that is not on the calendar (2026-02-30, year 0000)",
}
# Refusals the document could state but does not yet: the search layer's token schema (^\S.*$ in
# party_common/search/declare.py) admits an empty item in a comma list and a bare `|`. Reported; held
# by test_known_gaps_are_still_there, which fails once they are fixed, to have them taken out here.
KNOWN_GAPS = {
    "an empty value matches nothing": "a token list with an empty item (a,,b)",
    "names neither a system nor a value": "a bare | token",
    "_count must be at most": "a _count past 2**63-1, which the document's schema (no maximum) admits",
}
# And accepted where the document says otherwise: a single-valued parameter (_count, _sort...) given
# twice is read as one of its values, even under strict handling.
REPEATED = "a single-valued parameter given twice"


def explained(response) -> str | None:
    """Why a 400 of a schema-valid request is right, if it is one of the refusals above."""
    if response.status_code != 400:
        return None
    try:
        text = " ".join(str(i.get("diagnostics", "")) for i in response.json().get("issue", []))
    except (ValueError, AttributeError):
        return None
    return next((why for phrase, why in {**BEYOND_SCHEMA, **KNOWN_GAPS}.items() if phrase in text), None)


def _typed(text: str, schema: dict):
    """A query value as the server reads it for a parameter of `schema`."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def read_query_problems(url: str, parameters: list[dict]) -> list[str]:
    """What is wrong with the query of `url` as the server reads it against the document's `parameters`:
    a value given no text left out (FHIR ignores it), every value text."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    problems = []
    for parameter in parameters:
        if parameter.get("in") != "query":
            continue
        name, schema = parameter["name"], parameter.get("schema", {})
        values = [v for k, v in query if k == name and v != ""]
        if not values:
            continue
        if schema.get("type") == "array":
            instance = [_typed(v, schema.get("items", {})) for v in values]
        elif len(values) > 1:
            problems.append(REPEATED)
            continue
        else:
            instance = _typed(values[0], schema)
        if not jsonschema.Draft202012Validator(schema).is_valid(instance):
            problems.append(f"{name}={values[0][:40]!r}")
    return problems


def judge_by_what_was_read(schema, parameters: list[dict]):
    """Takes the refusals explained above, and the acceptances of a query that, as read, was valid (or
    broke the document only by REPEATED), off schemathesis's failures."""
    @schema.hook
    def filter_failure(context, failure, case, response):
        if isinstance(failure, RejectedPositiveData):
            return not explained(response)
        if isinstance(failure, AcceptedNegativeData) and case.operation.method.lower() == "get":
            problems = read_query_problems(str(response.request.url), parameters)
            return any(p != REPEATED for p in problems)
        return True
    return schema
