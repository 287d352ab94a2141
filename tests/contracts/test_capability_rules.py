"""The CapabilityStatement invariants (contracts/capability_rules.py): each rule shown failing on a
statement broken in its one way, and holding on a near miss of that statement."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from contracts.capability_rules import RULES, structure_errors, violations

Edit = Callable[[dict], None]

GOOD = {
    "resourceType": "CapabilityStatement",
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>A test server</p></div>'},
    "name": "TestServer",
    "status": "active",
    "date": "2027-01-04",
    "kind": "instance",
    "software": {"name": "test server"},
    "implementation": {"description": "a test server", "url": "http://server.test"},
    "fhirVersion": "4.0.1",
    "format": ["application/fhir+json", "json"],
    "rest": [{"mode": "server",
              "resource": [{"type": "Slot", "interaction": [{"code": "search-type"}],
                            "searchParam": [{"name": "status", "type": "token"}]}]}],
    "messaging": [{"endpoint": [{"protocol": {"system": "http://terminology.hl7.org/CodeSystem/message-transport",
                                              "code": "http"},
                                 "address": "http://server.test"}],
                   "supportedMessage": [{"mode": "receiver",
                                         "definition": "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"}]}],
}

OPERATION = {"resourceType": "OperationDefinition", "id": "op", "name": "Op", "status": "active", "kind": "operation",
             "code": "op", "system": False, "type": False, "instance": True}


def edited(*edits: Edit) -> dict:
    statement = copy.deepcopy(GOOD)
    for edit in edits:
        edit(statement)
    return statement


def drop(*keys: str) -> Edit:
    return lambda s: [s.pop(k, None) for k in keys] and None


def put(**values) -> Edit:
    return lambda s: s.update(copy.deepcopy(values))


def no_endpoint(s: dict) -> None:
    del s["messaging"][0]["endpoint"]


def contained(resource: dict, referenced: bool = True) -> Edit:
    def edit(s: dict) -> None:
        s["contained"] = [copy.deepcopy(resource)]
        if referenced:
            s["rest"][0]["operation"] = [{"name": "op", "definition": "#op"}]
    return edit


# As `kind` changes, the other kind rules change what they ask for: cpb-15 no implementation and a
# software, cpb-16 neither, cpb-3 no messaging endpoint. These are the statements that satisfy them.
CAPABILITY = (put(kind="capability"), drop("implementation"), no_endpoint)
REQUIREMENTS = (put(kind="requirements", description="what we ask of a server"), drop("implementation", "software"),
                no_endpoint)
FORMAT_EXTENSION = [{"extension": [{"url": "http://example.org/why", "valueString": "testbed"}]}, None]

# rule key -> (a near miss that holds, the same broken in the rule's one way)
EXAMPLES: dict[str, tuple[dict, dict]] = {
    "cpb-0": (edited(put(name="Test_Server2")), edited(put(name="test server"))),
    "cpb-1": (edited(drop("rest")), edited(drop("rest", "messaging"))),
    "cpb-2": (edited(*REQUIREMENTS), edited(*REQUIREMENTS, drop("description"))),
    "cpb-3": (edited(*CAPABILITY), edited(put(kind="capability"), drop("implementation"))),
    "cpb-7": (edited(put(document=[{"mode": "producer", "profile": "http://x.test/p"},
                                   {"mode": "consumer", "profile": "http://x.test/p"}])),
              edited(put(document=[{"mode": "producer", "profile": "http://x.test/p"},
                                   {"mode": "producer", "profile": "http://x.test/p"}]))),
    "cpb-9": (edited(lambda s: s["rest"].append({"mode": "client", "resource": copy.deepcopy(s["rest"][0]["resource"])})),
              edited(lambda s: s["rest"][0]["resource"].append({"type": "Slot", "interaction": [{"code": "read"}]}))),
    "cpb-12": (edited(lambda s: s["rest"][0]["resource"].append(
                   {"type": "Schedule", "interaction": [{"code": "search-type"}],
                    "searchParam": [{"name": "status", "type": "token"}]})),
               edited(lambda s: s["rest"][0]["resource"][0]["searchParam"].append({"name": "status", "type": "token"}))),
    "cpb-14": (edited(drop("software")), edited(drop("implementation"))),
    "cpb-15": (edited(*CAPABILITY), edited(*CAPABILITY, put(implementation={"description": "one installation"}))),
    "cpb-16": (edited(*REQUIREMENTS), edited(*REQUIREMENTS, put(software={"name": "test server"}))),
    "dom-2": (edited(contained(OPERATION)), edited(contained({**OPERATION, "contained": [{**OPERATION, "id": "in"}]}))),
    "dom-3": (edited(contained(OPERATION)), edited(contained(OPERATION, referenced=False))),
    "dom-4": (edited(contained({**OPERATION, "meta": {"profile": ["http://x.test/p"]}})),
              edited(contained({**OPERATION, "meta": {"versionId": "2"}}))),
    "dom-5": (edited(contained({**OPERATION, "meta": {"tag": [{"code": "t"}]}})),
              edited(contained({**OPERATION, "meta": {"security": [{"code": "R"}]}}))),
    "dom-6": (edited(put(text={"status": "empty", "div": '<div xmlns="http://www.w3.org/1999/xhtml">-</div>'})),
              edited(drop("text"))),
    "ele-1": (edited(put(format=[None, "json"], _format=FORMAT_EXTENSION)),
              edited(lambda s: s["rest"][0]["resource"][0].update(interaction=[]))),
    "ext-1": (edited(put(extension=[{"url": "http://x.test/e", "valueString": "v"}])),
              edited(put(extension=[{"url": "http://x.test/e", "valueString": "v",
                                     "extension": [{"url": "part", "valueString": "w"}]}]))),
}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.key)
def test_each_rule_fails_on_its_broken_statement_only(rule):
    near_miss, broken = EXAMPLES[rule.key]  # a KeyError here: a rule added without its examples
    assert violations(near_miss) == []
    assert violations(broken) == [(rule.key, rule.text)]


def test_every_example_is_of_a_rule_in_the_table():
    assert set(EXAMPLES) == {rule.key for rule in RULES}
    assert len(RULES) == len(EXAMPLES)  # no key twice in the table


def test_a_rule_on_a_repeating_element_is_held_at_every_one():
    second_rest = {"mode": "client", "resource": [{"type": "Slot"}, {"type": "Slot"}]}
    assert [key for key, _ in violations(edited(lambda s: s["rest"].append(second_rest)))] == ["cpb-9"]


def test_ele_1_refuses_a_null_with_no_partner_and_an_empty_string():
    assert [key for key, _ in violations(edited(put(format=[None, "json"])))] == ["ele-1"]
    assert [key for key, _ in violations(edited(put(publisher="")))] == ["ele-1"]


def test_the_good_statement_is_r4_as_fhir_resources_reads_it():
    assert structure_errors(GOOD) == []


def test_structure_errors_name_what_r4_does_not_have_or_requires():
    # The model reports required elements only once the elements it has are all known ones.
    assert structure_errors(edited(put(acceptUnknown="no"))) == ["acceptUnknown: Extra inputs are not permitted"]
    assert structure_errors(edited(lambda s: s["messaging"][0]["endpoint"][0].pop("address"))) == [
        "messaging.0.endpoint.0.address: Value for the field 'address' is required."]
