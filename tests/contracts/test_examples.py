"""The example messages: each valid FHIR R4, each holding to the profile it illustrates, NHS numbers 999."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

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


def test_a_rule_catches_what_it_names():
    doc = example("broker-to-gp.confirmation")
    del doc["entry"][0]["resource"]["response"]["identifier"]
    assert [v.split(":")[0] for v in violations(doc, "confirmation")] == ["response-identifier"]
    doc = example("broker-to-pas.booking-request")
    doc["entry"][0]["resource"]["eventCoding"]["system"] = "http://example.org/events"
    assert [v.split(":")[0] for v in violations(doc, "booking-request", event="booking-request")] == ["event-system"]


def _nhs_numbers(doc) -> list[str]:
    text = json.dumps(doc)
    found = []
    marker = '"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "'
    while marker in text:
        text = text.split(marker, 1)[1]
        found.append(text.split('"', 1)[0])
    return found
