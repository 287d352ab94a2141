"""The CapabilityStatement builder: ready-made resource entries (a search layer's), statements with
and without a known base, each keeping R4's invariants."""

from __future__ import annotations

import pytest

from contracts.capability_rules import structure_errors, violations
from party_common.capability import capability_statement

SLOT_ENTRY = {"type": "Slot", "interaction": [{"code": "search-type"}],
              "searchParam": [{"name": "status", "type": "token"}], "searchInclude": ["Slot:schedule"]}


def test_ready_made_entries_are_served_as_given_after_the_short_ones():
    statement = capability_statement("test", [{"type": "Schedule", "interactions": ["read"]}], [],
                                     rest_resources=[SLOT_ENTRY])
    assert statement["rest"][0]["resource"] == [{"type": "Schedule", "interaction": [{"code": "read"}]}, SLOT_ENTRY]
    assert violations(statement) == [] and structure_errors(statement) == []


def test_a_type_described_twice_is_refused_when_built():
    with pytest.raises(ValueError, match="Slot"):
        capability_statement("test", [{"type": "Slot", "interactions": ["read"]}], [], rest_resources=[SLOT_ENTRY])


def test_without_a_base_the_implementation_is_described_and_no_address_is_made_up():
    statement = capability_statement("test party", [], ["process-message"], receives=["booking-request"])
    assert statement["implementation"] == {"description": "nhs-interop-testbed test party"}
    assert "url" not in statement and "endpoint" not in statement["messaging"][0]
    assert statement["name"] == "TestParty"
    assert violations(statement) == [] and structure_errors(statement) == []


def test_with_a_base_it_is_the_url_the_implementation_and_the_messaging_endpoint():
    statement = capability_statement("test", [], [], base="http://party.test/", receives=["booking-request"],
                                     sends=["booking-cancel"])
    assert statement["url"] == "http://party.test/metadata"
    assert statement["implementation"]["url"] == "http://party.test"
    messaging = statement["messaging"][0]
    assert [e["address"] for e in messaging["endpoint"]] == ["http://party.test"]
    assert messaging["supportedMessage"] == [
        {"mode": "receiver", "definition": "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"},
        {"mode": "sender", "definition": "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-cancel"}]
    assert violations(statement) == [] and structure_errors(statement) == []
