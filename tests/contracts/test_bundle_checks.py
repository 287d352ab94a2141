"""The checks of a whole message that JMESPath rules cannot make: references resolve, and the BaRS
MessageBundle JSON schema (vendored in contracts/bars_schema/, the same as the published one)."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from contracts import expect
from contracts.bundle_checks import BARS_SCHEMA_DIR, MESSAGE_BUNDLE_SCHEMA, bars_schema, references
from contracts.data import example
from contracts.rules import profile_checks, profile_names, rules_file
from contracts.suite import CheckFailed


def test_the_vendored_schema_and_licence_are_the_published_ones(reference_dir):
    assert MESSAGE_BUNDLE_SCHEMA.read_bytes() == (reference_dir / "schemas" / "MessageBundle.yaml").read_bytes(), (
        "contracts/bars_schema/MessageBundle.yaml differs from the BaRS reference: copy it again")
    assert (BARS_SCHEMA_DIR / "LICENSE").read_bytes() == (reference_dir / "LICENSE").read_bytes()


def test_the_published_booking_request_passes_both_checks(reference_dir):
    published = json.loads((reference_dir / "process_message" / "request" / "Booking_POST.json").read_text())
    assert bars_schema(published) == []
    assert references(published) == []


def test_every_message_profile_runs_both_checks():
    profiles = rules_file("messages")["profiles"]
    messages = [name for name in profile_names() if "message" in _ancestors(name, profiles)]
    assert {"booking-request", "gp-booking-request", "response", "booking-response", "confirmation"} <= set(messages)
    for name in messages:
        assert profile_checks(name) == ("references", "bars-schema"), name


def _ancestors(name: str, profiles: dict) -> set[str]:
    parents = profiles[name].get("extends") or []
    parents = [parents] if isinstance(parents, str) else parents
    return {name}.union(*(_ancestors(p, profiles) for p in parents))


@pytest.mark.parametrize("name", ["broker-to-pas.booking-request", "broker-to-gp.confirmation",
                                  "gp-to-broker.booking-request", "broker-to-spine.booking-report"])
def test_our_examples_pass_both_checks(name):
    assert references(example(name)) == []
    assert bars_schema(example(name)) == []


def _entry(doc: dict, resource_type: str) -> tuple[int, dict]:
    return next((i, e) for i, e in enumerate(doc["entry"]) if e["resource"]["resourceType"] == resource_type)


def test_references_that_resolve_to_nothing_or_the_wrong_thing_are_named():
    doc = example("broker-to-pas.booking-request")
    appointment = doc["entry"][1]["resource"]
    appointment["slot"][0]["reference"] = "Slot/rt1-rt101-cardiology-202703010900"
    i, patient = _entry(doc, "Patient")
    doc["entry"][0]["resource"]["sender"]["reference"] = patient["fullUrl"]
    problems = references(doc)
    assert any("entry[1].resource.slot = 'Slot/rt1-rt101-cardiology-202703010900' resolves to no entry" in p
               and "relative reference" in p for p in problems), problems
    assert any(f"entry[0].resource.sender points at a Patient (entry[{i}])" in p for p in problems), problems
    # The Slot (and what only it led to) now hangs from nothing.
    s, _slot = _entry(doc, "Slot")
    assert f"references: entry[{s}] (Slot) is not reachable from the MessageHeader" in problems


def test_an_entry_nothing_leads_to_and_a_repeated_full_url_are_named():
    doc = example("gp-to-broker.booking-request")
    doc["entry"].append({"fullUrl": "urn:uuid:11111111-2222-4333-8444-555555555555",
                         "resource": {"resourceType": "Location", "name": "nowhere"}})
    doc["entry"].append(copy.deepcopy(doc["entry"][1]))
    problems = references(doc)
    n = len(doc["entry"])
    assert f"references: entry[{n - 2}] (Location) is not reachable from the MessageHeader" in problems
    assert any(p.startswith(f"references: entry[{n - 1}] repeats the fullUrl of entry[1]") for p in problems)


def test_the_schema_names_what_breaks_it():
    doc = example("broker-to-pas.booking-request")
    doc["entry"][0]["resource"]["eventCoding"]["display"] = "Booking request"   # eventCoding is closed
    doc["entry"][0]["resource"]["sender"]["display"] = "a practice"             # so is sender
    doc["timestamp"] = "yesterday"
    problems = bars_schema(doc)
    assert "bars-schema: entry[0].resource.eventCoding: Additional properties are not allowed ('display' was " \
           "unexpected)" in problems
    assert any(p.startswith("bars-schema: entry[0].resource.sender: Additional properties") for p in problems)
    assert "bars-schema: timestamp: 'yesterday' is not a 'date-time'" in problems


def _answer(status: int, bars_code: str) -> httpx.Response:
    body = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "business-rule", "diagnostics": "refused", "expression": ["Bundle.entry"],
        "details": {"coding": [{"system": "https://fhir.nhs.uk/Codesystem/http-error-codes", "code": bars_code}]}}]}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/fhir+json"},
                          request=httpx.Request("POST", "http://pas.test/RT1/$process-message"))


def test_a_bars_error_code_must_be_one_of_its_kind():
    assert expect.outcome(_answer(422, "REC_UNPROCESSABLE_ENTITY"), "unprocessable")
    with pytest.raises(CheckFailed, match="BaRS error code 'REC_CONFLICT', expected one of REC_UNPROCESSABLE"):
        expect.outcome(_answer(422, "REC_CONFLICT"), "unprocessable")
