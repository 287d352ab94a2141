"""party_common.fhir_shape: the element at fault where fhir.resources raises a TypeError or lets a null
through, found without walking a valid body more than once."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.endpoint import Endpoint

from party_common.fhir_json import validate_resource
from party_common.fhir_shape import misplaced_value, null_property
from party_common.outcome import FhirError

HEADER = {"resourceType": "MessageHeader", "eventCoding": {"code": "booking-request"},
          "source": {"endpoint": "https://example.test/ep"}}


def _message(header: dict) -> dict:
    return {"resourceType": "Bundle", "id": "m1", "type": "message",
            "entry": [{"fullUrl": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000001", "resource": header}]}


@pytest.mark.parametrize("value", [{}, {"a": 1}, [], ["https://example.test"]], ids=repr)
def test_an_object_or_array_for_a_url_is_named_even_inside_a_bundle(value):
    body = _message({**HEADER, "source": {"endpoint": value}})
    issue = misplaced_value("Bundle", body, Bundle)
    assert issue.expression == ["Bundle.entry[0].resource.source.endpoint"]
    with pytest.raises(FhirError) as refused:
        validate_resource(body)
    assert refused.value.status == 400 and refused.value.issues[0].expression == issue.expression


def test_a_well_shaped_body_has_nothing_misplaced():
    assert misplaced_value("Bundle", _message(HEADER), Bundle) is None
    endpoint = {"resourceType": "Endpoint", "status": "active", "connectionType": {"code": "x"},
                "payloadType": [{"text": "x"}], "address": "https://example.test"}
    assert misplaced_value("Endpoint", endpoint, Endpoint) is None


def test_a_null_property_is_refused_naming_it():
    body = _message({**HEADER, "reason": {"coding": None}})
    assert null_property("Bundle", body).expression == ["Bundle.entry[0].resource.reason.coding"]
    with pytest.raises(FhirError) as refused:
        validate_resource(body)
    assert refused.value.status == 400
    assert null_property("Bundle", _message(HEADER)) is None


def test_a_null_in_an_array_of_primitives_is_fhir_and_is_let_through():
    """FHIR's one place for a null: an array of primitives kept in step with its `_element` extensions."""
    patient = {"resourceType": "Patient", "name": [{"given": ["Ann", None],
                                                    "_given": [None, {"extension": [{"url": "http://x.test/e",
                                                                                     "valueString": "y"}]}]}]}
    assert null_property("Patient", patient) is None
    assert validate_resource(patient).name[0].given[0] == "Ann"


@pytest.mark.parametrize("element,value,kind", [("end", 1.5, "string"), ("start", 20260105, "string"),
                                                ("priority", True, "integer"), ("minutesDuration", "5", "integer"),
                                                ("minutesDuration", 5.0, "integer")])
def test_a_value_the_models_coerce_but_fhir_json_does_not_allow_is_refused(element, value, kind):
    """R4B takes a number for a dateTime and "5" for an integer; the parties read the JSON as sent
    (`datetime.fromisoformat(1.5)` was a 500 at the PAS, found by the body-mutation fuzz)."""
    appointment = {"resourceType": "Appointment", "status": "booked",
                   "participant": [{"status": "accepted", "actor": {"reference": "Patient/1"}}], element: value}
    with pytest.raises(FhirError) as refused:
        validate_resource(appointment)
    issue = refused.value.issues[0]
    assert issue.expression == [f"Appointment.{element}"] and f"is not a {kind}" in issue.diagnostics


def test_every_published_bars_example_keeps_its_json_types(reference_dir):
    """The check refuses nothing FHIR allows: none of the reference files is flagged by it."""
    checked = 0
    for path in sorted(reference_dir.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        try:
            model = get_fhir_model_class(data.get("resourceType"))
        except (ValueError, TypeError, KeyError):
            continue
        assert misplaced_value(data["resourceType"], data, model) is None, path
        checked += 1
    assert checked >= 60
