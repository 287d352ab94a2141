"""OperationOutcome and the one exception type every party raises for a FHIR-shaped error."""

from __future__ import annotations

from dataclasses import dataclass, field

# Spelled as the published BaRS examples spell it.
BARS_ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"


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
            out["details"] = {"coding": [{"system": BARS_ERROR_SYSTEM, "code": self.bars_code}]}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = self.expression
        return out


def operation_outcome(issues: list[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


class FhirError(Exception):
    """An error a FHIR service answers with: an HTTP status and an OperationOutcome."""

    def __init__(self, status: int, code: str, diagnostics: str, expression: list[str] | None = None,
                 issues: list[Issue] | None = None, bars_code: str | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.issues = issues or [Issue(code, diagnostics, expression or [], bars_code=bars_code)]

    @property
    def code(self) -> str:
        return self.issues[0].code

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
