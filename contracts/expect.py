"""What checks assert about an answer, each failing with a CheckFailed that says what came instead."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from .errors import bars_error_system, error_kind
from .rules import violations
from .checks import CheckFailed

FHIR_JSON = "application/fhir+json"


def _said(resp: httpx.Response) -> str:
    text = resp.text.replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def fhir_body(resp: httpx.Response, what: str = "answer") -> Any:
    """The JSON body of a FHIR answer; its Content-Type must be application/fhir+json."""
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FHIR_JSON:
        raise CheckFailed(f"{what}: Content-Type should be {FHIR_JSON}, got {ctype or 'none'} "
                          f"({resp.request.method} {resp.request.url.path})")
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        raise CheckFailed(f"{what}: body is not JSON: {_said(resp)}") from None


def status(resp: httpx.Response, expected: int, what: str = "answer") -> Any:
    """Asserts the HTTP status and a FHIR JSON body; returns the body."""
    if resp.status_code != expected:
        raise CheckFailed(f"{what}: HTTP {resp.status_code}, expected {expected} "
                          f"({resp.request.method} {resp.request.url.path}): {_said(resp)}")
    return fhir_body(resp, what)


def conforms(doc: Any, profile: str, what: str = "answer", **variables: Any) -> None:
    problems = violations(doc, profile, **variables)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailed(f"{what} breaks profile {profile}: {problems[0]}{more}")


def outcome(resp: httpx.Response, kind: str, what: str = "answer") -> dict:
    """Asserts the error answer the taxonomy gives `kind`: status, OperationOutcome, issue code, expression."""
    spec = error_kind(kind)
    body = status(resp, spec.status, f"{what} ({kind})")
    conforms(body, "outcome", f"{what} ({kind})")
    issue = body["issue"][0]
    if issue.get("code") not in spec.codes:
        raise CheckFailed(f"{what} ({kind}): issue code {issue.get('code')!r}, expected one of "
                          f"{', '.join(spec.codes)}")
    if spec.expression and not issue.get("expression"):
        raise CheckFailed(f"{what} ({kind}): the issue must name the element at fault in `expression`: "
                          f"{_said(resp)}")
    for i, each in enumerate(body["issue"]):
        for coding in ((each.get("details") or {}).get("coding") or []) if isinstance(each, dict) else []:
            if isinstance(coding, dict) and coding.get("system") == bars_error_system() \
                    and coding.get("code") not in spec.bars:
                raise CheckFailed(f"{what} ({kind}): issue[{i}] carries BaRS error code {coding.get('code')!r}, "
                                  f"expected one of {', '.join(spec.bars)}")
    return body


def that(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def same_answer(first: dict, again: dict) -> None:
    """A repeated message (same Bundle.id) must get the first answer again: FHIR reliable messaging. The
    first answer, not one built anew: the same response Bundle.id and the same timestamp."""
    that(again.get("id") == first.get("id"),
         f"the repeat got response Bundle {again.get('id')}, the first {first.get('id')}")
    that(again.get("timestamp") == first.get("timestamp"),
         f"the repeat's answer was written at {again.get('timestamp')}, the first at {first.get('timestamp')}: "
         "the message was processed again")


def free_slots(body: dict, what: str = "Slot search") -> list[dict]:
    """The Slots of a free-slot search; at least one, each free, with an id and a start."""
    conforms(body, "searchset", what)
    slots = [e["resource"] for e in body.get("entry") or []
             if (e.get("resource") or {}).get("resourceType") == "Slot"]
    that(bool(slots), f"{what} found no free slot")
    for slot in slots:
        that(slot.get("status") == "free", f"Slot/{slot.get('id')} is {slot.get('status')!r}, "
                                            "but the search asked for free slots")
        that(bool(slot.get("id") and slot.get("start")), f"Slot {slot.get('id')!r} lacks id or start")
    return slots
