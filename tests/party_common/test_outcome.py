"""BaRS error codes on OperationOutcomes: derived from the status, named where the role is not REC_,
and in agreement with the published BaRS 1.2.0 examples."""

from __future__ import annotations

import json
import re

import pytest

from party_common.outcome import (
    HTTP_ERROR_SYSTEM, PROXY, SENDER, FhirError, Issue, bars_code_for, business_rule, conflict, invalid,
    not_found, operation_outcome, status_of,
)


def _coding(issue: dict) -> list[dict]:
    return issue["details"]["coding"]


def test_the_system_is_spelled_as_the_examples_spell_it():
    assert HTTP_ERROR_SYSTEM == "https://fhir.nhs.uk/Codesystem/http-error-codes"


@pytest.mark.parametrize(("status", "code"), [
    (400, "REC_BAD_REQUEST"), (401, "REC_UNAUTHORIZED"), (403, "REC_FORBIDDEN"), (404, "REC_NOT_FOUND"),
    (405, "REC_METHOD_NOT_ALLOWED"), (406, "REC_NOT_ACCEPTABLE"), (408, "REC_TIMEOUT"), (409, "REC_CONFLICT"),
    (422, "REC_UNPROCESSABLE_ENTITY"), (429, "REC_TOO_MANY_REQUESTS"), (500, "REC_SERVER_ERROR"),
    (501, "REC_NOT_IMPLEMENTED"), (503, "REC_SERVICE_UNAVAILABLE"),
    # No BaRS name of their own: the nearest (party_common/outcome.py says why).
    (413, "REC_UNPROCESSABLE_ENTITY"), (415, "REC_NOT_ACCEPTABLE"), (502, "REC_SERVER_ERROR"), (504, "REC_TIMEOUT"),
    # Statuses nobody answers today still get a code of their class.
    (418, "REC_BAD_REQUEST"), (599, "REC_SERVER_ERROR"),
])
def test_a_status_gives_the_receivers_code(status, code):
    assert bars_code_for(status) == code
    assert FhirError(status, "processing", "x").outcome()["issue"][0]["details"]["coding"] == [
        {"system": HTTP_ERROR_SYSTEM, "code": code}]


def test_the_proxy_and_sender_prefixes():
    assert bars_code_for(400, SENDER) == "SEND_BAD_REQUEST"
    assert bars_code_for(406, SENDER) == "SEND_NOT_ACCEPTABLE"
    assert bars_code_for(404, PROXY) == "PROXY_NOT_FOUND"


@pytest.mark.parametrize(("code", "status"), [
    ("REC_UNAVAILABLE", 503), ("REC_SERVICE_UNAVAILABLE", 503), ("PROXY_UNAVAILABLE", 503),
    ("SERVICE_UNAVAILABLE", 503), ("SEND_NOT_IMPLEMENTED", 501), ("PROXY_NOT_FOUND", 404), ("NOT_FOUND", 404),
    ("REC_NOPE", None), ("", None),
])
def test_a_code_gives_its_status(code, status):
    assert status_of(code) == status


def test_every_existing_raise_site_keeps_working_and_gets_its_code():
    for error, status, code in ((invalid("bad", "Bundle.type"), 400, "REC_BAD_REQUEST"),
                                (not_found("gone"), 404, "REC_NOT_FOUND"),
                                (conflict("taken", "Slot"), 409, "REC_CONFLICT"),
                                (business_rule("no", "Bundle.entry[1]"), 422, "REC_UNPROCESSABLE_ENTITY")):
        issue = error.outcome()["issue"][0]
        assert error.status == status and error.bars_code == code
        assert _coding(issue) == [{"system": HTTP_ERROR_SYSTEM, "code": code}]
    # The element at fault stays named.
    assert invalid("bad", "Bundle.type").outcome()["issue"][0]["expression"] == ["Bundle.type"]


def test_an_explicit_code_wins_and_issues_passed_on_keep_theirs():
    error = FhirError(400, "required", "no X-Request-ID", ["X-Request-ID"], bars_code="SEND_BAD_REQUEST")
    assert error.outcome() == {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "required",
        "details": {"coding": [{"system": HTTP_ERROR_SYSTEM, "code": "SEND_BAD_REQUEST"}]},
        "diagnostics": "no X-Request-ID", "expression": ["X-Request-ID"]}]}
    received = error.outcome()["issue"][0]
    passed_on = FhirError(400, "required", "x", issues=[Issue.from_json(received), Issue("value", "uncoded")])
    assert [i["details"]["coding"][0]["code"] for i in passed_on.outcome()["issue"]] == [
        "SEND_BAD_REQUEST", "REC_BAD_REQUEST"]


def test_warnings_are_not_errors_and_carry_no_code():
    outcome = operation_outcome([Issue("not-found", "no such service", ["service"], severity="warning")], 200)
    assert "details" not in outcome["issue"][0]
    assert "details" not in operation_outcome([Issue("invalid", "x")])["issue"][0]


def _published(reference_dir, folder: str) -> list[tuple[str, int, dict]]:
    out = []
    for path in sorted((reference_dir / "OperationOutcome" / folder).glob("*.json")):
        status = int(re.match(r"(\d{3})-", path.name).group(1))
        out.append((path.name, status, json.loads(path.read_text())))
    return out


@pytest.mark.parametrize(("folder", "prefix"), [("REC", "REC_"), ("SEND", SENDER)])
def test_our_table_agrees_with_every_published_example(reference_dir, folder, prefix):
    examples = _published(reference_dir, folder)
    assert len(examples) >= 10
    for name, status, outcome in examples:
        for issue in outcome["issue"]:
            codes = [c["code"] for c in _coding(issue) if c["system"] == HTTP_ERROR_SYSTEM]
            assert codes, name
            for code in codes:
                assert code.startswith(prefix), name
                assert status_of(code) == status, f"{name}: {code} is {status_of(code)} in our table"
                # And what we answer for that status and role is the example's code.
                assert bars_code_for(status, prefix) == code, name
