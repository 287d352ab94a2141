"""OperationOutcome and the one exception type every party raises for a FHIR-shaped error.

Every error issue carries the BaRS error code (`issue.details.coding`, system
`https://fhir.nhs.uk/Codesystem/http-error-codes`): a role prefix and the name BaRS gives the HTTP
status. `REC_` is what a receiver answers (the spine, a PAS, a GP system, the broker as the booking
service), `SEND_` what the proxy answers when the sender broke the API (headers), `PROXY_` what
the proxy answers about itself. A raise site names a code only when it is not `REC_` for its status.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

# Spelled as BaRS 1.2.0's examples spell it (lower-case "s" in Codesystem).
HTTP_ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"

RECEIVER, SENDER, PROXY = "REC_", "SEND_", "PROXY_"

# The error names of the code system and the HTTP status each stands for (BaRS 1.2.0's
# 4XX-BARS and 5XX-BARS tables and its example OperationOutcomes). The first name of a status is
# the one we answer with: for 503 the examples' SERVICE_UNAVAILABLE (OperationOutcome/REC and
# unavailable.json, as BaRS's failure-scenario pages have it), though the OpenAPI table says
# UNAVAILABLE; a code with either is read as 503.
ERROR_NAMES: dict[str, int] = {
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_ACCEPTABLE": 406,
    "TIMEOUT": 408,
    "CONFLICT": 409,
    "UNPROCESSABLE_ENTITY": 422,
    "TOO_MANY_REQUESTS": 429,
    "SERVER_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "SERVICE_UNAVAILABLE": 503,
    "UNAVAILABLE": 503,
}

# Statuses BaRS has no name for, answered with the nearest name it has:
# 413: the body is refused for its size, not for being malformed; BaRS pairs `too-costly` (our issue
#      code for 413) with UNPROCESSABLE_ENTITY.
# 415: BaRS's NOT_ACCEPTABLE covers "versions in Accept or content", the content type included.
# 502: the party behind answered something unusable: a server error as far as the caller can tell.
# 504: BaRS's TIMEOUT is "injected when a 504 is generated in the proxy due to a receiver timing out".
NEAREST_NAMES: dict[int, str] = {413: "UNPROCESSABLE_ENTITY", 415: "NOT_ACCEPTABLE", 502: "SERVER_ERROR",
                                 504: "TIMEOUT"}

_NAME_OF_STATUS: dict[int, str] = {**{s: n for n, s in reversed(ERROR_NAMES.items())}, **NEAREST_NAMES}
_PREFIXES = (RECEIVER, SENDER, PROXY)


def bars_code_for(status: int, prefix: str = RECEIVER) -> str:
    """The BaRS error code for an HTTP error status, as `prefix` (a role) answers it."""
    name = _NAME_OF_STATUS.get(status) or ("SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
    return prefix + name


def status_of(code: str) -> int | None:
    """The HTTP status a BaRS error code stands for (prefixed or not); None for a code BaRS has not."""
    for prefix in _PREFIXES:
        if code.startswith(prefix):
            code = code[len(prefix):]
            break
    return ERROR_NAMES.get(code)

BARS_ERROR_SYSTEM = HTTP_ERROR_SYSTEM


@dataclass
class Issue:
    code: str
    diagnostics: str
    expression: list[str] = field(default_factory=list)
    severity: str = "error"
    bars_code: str | None = None

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code}
        if self.bars_code:
            out["details"] = {"coding": [{"system": HTTP_ERROR_SYSTEM, "code": self.bars_code}]}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = self.expression
        return out

    @classmethod
    def from_json(cls, issue: dict) -> Issue:
        """An issue as another party answered it, its BaRS code kept (to pass its refusal on)."""
        coding = ((issue.get("details") or {}).get("coding")) or []
        code = next((c.get("code") for c in coding if c.get("system") == HTTP_ERROR_SYSTEM), None)
        return cls(issue.get("code", "processing"), issue.get("diagnostics", ""), issue.get("expression") or [],
                   issue.get("severity", "error"), code)


def operation_outcome(issues: list[Issue], status: int | None = None) -> dict:
    """An OperationOutcome; with the HTTP status it answers, its errors get their `REC_` code."""
    if status is not None:
        issues = with_bars_code(issues, bars_code_for(status))
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


def with_bars_code(issues: list[Issue], code: str) -> list[Issue]:
    """The issues with `code` on each error that has none (warnings and information stay uncoded)."""
    return [replace(i, bars_code=code) if i.bars_code is None and i.severity in ("error", "fatal") else i
            for i in issues]


class FhirError(Exception):
    """An error a FHIR service answers with: an HTTP status and an OperationOutcome.

    `bars_code` names the BaRS error code when it is not the receiver's for `status` (a `SEND_` or
    `PROXY_` answer); issues that already carry one (passed on from another party) keep theirs.
    """

    def __init__(self, status: int, code: str, diagnostics: str, expression: list[str] | None = None,
                 issues: list[Issue] | None = None, bars_code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(diagnostics)
        self.status = status
        # A transient failure says when to try again (RFC 9110 Retry-After): a client need not guess.
        self.headers = headers if headers is not None or status != 503 else {"Retry-After": "1"}
        self.issues = with_bars_code(issues or [Issue(code, diagnostics, expression or [])],
                                     bars_code or bars_code_for(status))

    @property
    def code(self) -> str:
        return self.issues[0].code

    @property
    def bars_code(self) -> str | None:
        return self.issues[0].bars_code

    def outcome(self) -> dict:
        return operation_outcome(self.issues)


def invalid(diagnostics: str, expression: str | None = None, code: str = "invalid") -> FhirError:
    return FhirError(400, code, diagnostics, [expression] if expression else None)


def not_found(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(404, "not-found", diagnostics, [expression] if expression else None)


def conflict(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(409, "conflict", diagnostics, [expression] if expression else None)


def business_rule(diagnostics: str, expression: str | None = None, code: str = "business-rule") -> FhirError:
    return FhirError(422, code, diagnostics, [expression] if expression else None)


def answer_diagnostics(response: httpx.Response, limit: int = 200) -> str:
    """What a refusal says: its OperationOutcome's first diagnostics, else the start of its body."""
    try:
        issues = response.json().get("issue") or [{}]
        return str(issues[0].get("diagnostics") or response.text[:limit])
    except (ValueError, AttributeError, IndexError):
        return response.text[:limit]
