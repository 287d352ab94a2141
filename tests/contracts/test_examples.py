"""The example messages: each valid FHIR R4, each holding to the profile it illustrates, NHS numbers 999,
each what contracts/example_messages.py builds."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from contracts import example_messages
from contracts.data import example, example_names, rules_file
from contracts.rules import profile_names, violations
from party_common.identifiers import is_test_nhs_number

INDEX = rules_file("examples")["examples"]


def test_every_example_file_is_indexed_and_every_index_entry_has_a_file():
    assert sorted(INDEX) == example_names()
    assert {spec["profile"] for spec in INDEX.values()} <= set(profile_names())


@pytest.mark.parametrize("name", sorted(INDEX))
def test_example_holds_to_its_profile_and_to_fhir_r4(name):
    doc = example(name)
    spec = INDEX[name]
    assert violations(doc, spec["profile"], **spec["vars"]) == []
    get_fhir_model_class(doc["resourceType"]).model_validate(doc)
    for number in _nhs_numbers(doc):
        assert is_test_nhs_number(number), number


def test_the_examples_are_what_their_builder_makes():
    assert example_messages.differing() == [], "run `python -m contracts.example_messages --update`"
    assert sorted(example_messages.build_examples()) == example_names()


def test_a_rule_catches_what_it_names():
    doc = example("broker-to-gp.confirmation")
    del doc["entry"][0]["resource"]["response"]["identifier"]
    assert [v.split(":")[0] for v in violations(doc, "confirmation", event="booking-request")] == [
        "response-identifier"]
    doc = example("broker-to-pas.booking-request")
    doc["entry"][0]["resource"]["eventCoding"]["system"] = "http://example.org/events"
    assert [v.split(":")[0] for v in violations(doc, "booking-request", event="booking-request")] == ["event-system"]


def test_the_patient_is_found_through_its_entry_and_references_must_resolve():
    doc = example("broker-to-pas.booking-request")
    patient = next(e for e in doc["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["resource"]["identifier"][0]["value"] = "1234567890"
    assert [v.split(":")[0] for v in violations(doc, "booking-request", event="booking-request")] == [
        "patient-nhs-number"]
    doc = example("broker-to-pas.booking-request")
    slot = next(e for e in doc["entry"] if e["resource"]["resourceType"] == "Slot")
    slot["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    found = [v.split(":")[0] for v in violations(doc, "booking-request", event="booking-request")]
    # The rule linking the Appointment to its Slot, and the Python check that every reference resolves
    # (the Slot, and the Schedule only it led to, now hang from nothing).
    assert found == ["slot-entry", "references", "references", "references"], found


def _nhs_numbers(doc) -> list[str]:
    text = json.dumps(doc)
    found = []
    marker = '"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "'
    while marker in text:
        text = text.split(marker, 1)[1]
        found.append(text.split('"', 1)[0])
    return found
