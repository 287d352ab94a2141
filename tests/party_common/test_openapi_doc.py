"""Each party's /openapi.json describes its FHIR API truly: FHIR bodies, a Bundle to `$process-message`,
every error an OperationOutcome; and, the proof, what the running parties really answer validates
against the schema their own document gives for that status."""

from __future__ import annotations

import functools
import importlib
import json
import re

import jsonschema
import orjson
import pytest
import schemathesis

from contracts import snapshots
from party_common.app_factory import capability_statement, create_party_app
from party_common.body_limit import DEFAULT_MAX_BODY_BYTES
from party_common.fhir_json import FHIR_JSON, is_fhir_path
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, UBRN_SYSTEM, identifier_value
from party_common.messaging import read_message
from party_common.ndjson import NDJSON
from party_common.openapi_doc import OPERATIONS, RAISED, resource_schema
from tests.e2e.bars_examples import known_values, rewrite_values
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)

PARTIES = list(snapshots.PARTIES)
OUTCOME = {"$ref": "#/components/schemas/OperationOutcome"}


@functools.cache
def document(party: str) -> dict:
    """The party's document as its app serves it at /openapi.json (no lifespan needed to build it)."""
    package, _ = snapshots.PARTIES[party]
    settings = importlib.import_module(f"{package}.settings").Settings
    app = importlib.import_module(f"{package}.app").create_app(
        settings(database_url="sqlite+aiosqlite:///:memory:", log_level="WARNING"))
    return app.openapi()


def fhir_operations(doc: dict):
    for path, item in doc["paths"].items():
        if is_fhir_path(path):
            for method, operation in item.items():
                yield path, method, operation


@pytest.mark.parametrize("party", PARTIES)
def test_every_fhir_answer_is_fhir_not_a_string(party):
    for path, method, operation in fhir_operations(document(party)):
        (status, success), = [(s, r) for s, r in operation["responses"].items() if s[0] == "2"]
        (media_type, content), = success["content"].items()
        if path.endswith("/$export"):
            assert media_type == NDJSON, (method, path)
        else:
            assert media_type == FHIR_JSON and content["schema"]["$ref"].startswith("#/components/schemas/"), \
                (method, path, content)


@pytest.mark.parametrize("party", PARTIES)
def test_fastapi_validation_errors_are_nowhere(party):
    doc = document(party)
    assert "ValidationError" not in json.dumps(doc)
    # create_party_app answers a request it cannot validate with a 400 OperationOutcome, control routes too.
    for item in doc["paths"].values():
        for operation in item.values():
            if "422" in operation["responses"]:
                assert operation["responses"]["422"]["content"][FHIR_JSON]["schema"] == OUTCOME


@pytest.mark.parametrize("party", PARTIES)
def test_process_message_takes_a_required_bundle(party):
    doc = document(party)
    (path,) = [p for p in doc["paths"] if p.endswith("/$process-message")]
    body = doc["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"][FHIR_JSON]["schema"] == {"$ref": "#/components/schemas/Bundle"}
    assert doc["paths"][path]["post"]["responses"]["200"]["content"][FHIR_JSON]["schema"] == body["content"][
        FHIR_JSON]["schema"]


@pytest.mark.parametrize("party", PARTIES)
def test_every_fhir_operation_answers_errors_with_an_operation_outcome(party):
    for path, method, operation in fhir_operations(document(party)):
        responses = operation["responses"]
        assert {"400", "406", "500"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {FHIR_JSON: {"schema": OUTCOME}}, (method, path, status)


@pytest.mark.parametrize("party", PARTIES)
def test_every_operation_and_every_raised_route_is_one_the_party_has(party):
    """Catches a route renamed or an operation added without the document's tables."""
    doc = document(party)
    for path, method, _ in fhir_operations(doc):
        if "$" in path:
            assert path.rsplit("$", 1)[1] in OPERATIONS, f"{method} {path}: add it to openapi_doc.OPERATIONS"
    package, _ = snapshots.PARTIES[party]
    routes = {f"{method.upper()} {path}" for path, method, _ in fhir_operations(doc)}
    assert set(RAISED[package]) <= routes


@pytest.mark.parametrize("party", PARTIES)
def test_schemathesis_loads_the_document_and_every_operation(party):
    doc = document(party)
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted((o.method, o.path) for o in operations) == \
        sorted((method, path) for path, item in doc["paths"].items() for method in item)


def test_a_route_keeps_the_parameters_and_statuses_it_declares():
    app = create_party_app("test", capability_statement("test", [], []))
    declared = {"name": "patient:identifier", "in": "query", "required": False, "schema": {"type": "string"}}

    @app.get("/Appointment", openapi_extra={"parameters": [declared]}, responses={409: {"description": "taken"}})
    async def search():
        return {}

    operation = app.openapi()["paths"]["/Appointment"]["get"]
    assert operation["parameters"] == [declared]
    assert operation["responses"]["409"] == {"description": "taken", "content": {FHIR_JSON: {"schema": OUTCOME}}}


def test_the_document_is_rewritten_once_and_again_when_routes_change():
    app = create_party_app("test", capability_statement("test", [], []))
    first = app.openapi()
    assert app.openapi() is first

    @app.get("/Slot/{slot_id}")
    async def read(slot_id: str):
        return {}

    changed = app.openapi()
    assert changed["paths"]["/Slot/{slot_id}"]["get"]["responses"]["200"]["content"][FHIR_JSON]["schema"] == \
        {"$ref": "#/components/schemas/Slot"}
    assert "Slot" in changed["components"]["schemas"]


def _errors(schema: dict, value) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(value)]


def test_resource_schemas_refuse_what_fhir_refuses():
    """The schemas the proof below validates against are not vacuous."""
    appointment = {"resourceType": "Appointment", "status": "booked",
                   "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}]}
    schema = resource_schema("Appointment")
    assert _errors(schema, appointment) == []
    assert _errors(schema, {**appointment, "status": "confirmed"})
    assert _errors(schema, {**appointment, "participant": []})
    assert _errors(schema, {k: v for k, v in appointment.items() if k != "participant"})
    assert _errors(schema, {**appointment, "resourceType": "Slot"})
    assert _errors(schema, {**appointment, "start": 20300107})
    bundle = resource_schema("Bundle")
    assert _errors(bundle, {"resourceType": "Bundle", "type": "searchset", "entry": [{"search": {"mode": "match"}}]}) \
        == []
    assert _errors(bundle, {"resourceType": "Bundle", "type": "searchset", "entry": [{"search": {"mode": "all"}}]})
    assert _errors(resource_schema("OperationOutcome"), {"resourceType": "OperationOutcome", "issue": [{"code": "x"}]})


# --- the proof: real answers against the documents the parties serve ---

def _template(doc: dict, path: str) -> str:
    """The documented route a request path was served by: of those that match, the most literal."""
    def pattern(template: str) -> str:
        return "/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in template.split("/"))

    matching = [t for t in doc["paths"] if re.fullmatch(pattern(t), path)]
    assert matching, f"no documented route serves {path}"
    return min(matching, key=lambda t: t.count("{"))


def assert_documented(doc: dict, response, status: int):
    """The response has `status`, which the document lists for its route, with its content type and a
    body valid against the schema documented for that status."""
    assert response.status_code == status, response.text[:500]
    method, path = response.request.method.lower(), response.request.url.path
    template = _template(doc, path)
    documented = doc["paths"][template][method]["responses"].get(str(status))
    assert documented, f"{method.upper()} {template} answered {status}, which its document leaves out"
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in documented["content"], (method, template, status, media_type)
    body = response.text if media_type == NDJSON else response.json()
    schema = {**documented["content"][media_type]["schema"], "components": doc["components"]}
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(body)]
    assert not errors, (method, template, status, errors[:5])
    return body


async def test_what_each_party_answers_is_what_its_document_says(tmp_path, reference_dir):
    published = json.loads((reference_dir / "process_message" / "request" / "Booking_POST.json").read_text())
    fhir = {"Content-Type": FHIR_JSON}
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        docs = {name: (await client.get(f"{getattr(urls, name)}/openapi.json")).json()
                for name in ("broker", "spine", "pas", "gp")}

        async def call(party: str, method: str, path: str, status: int, **kwargs):
            response = await client.request(method, f"{getattr(urls, party)}{path}", **kwargs)
            return assert_documented(docs[party], response, status)

        known = await known_values(client, urls, nth_slot=3)
        trust, practice, nhs = known.trust_ods, known.practice_ods, known.nhs_number

        # The broker: directory, slot search, a published booking, the ledger and a repair.
        services = await call("broker", "GET", "/HealthcareService", 200)
        specialty = next(c["code"] for c in services["entry"][0]["resource"]["type"][0]["coding"]
                         if c["system"] == SPECIALTY_SYSTEM)
        await call("broker", "GET", "/Slot", 200, params={"service": known.service_id, "_count": 3})
        await call("broker", "GET", "/Slot", 400, params={"specialty": specialty, "_count": "x"})
        await call("broker", "GET", "/metadata", 200)
        answer = await call("broker", "POST", "/$process-message", 200, json=rewrite_values(published, known),
                            headers=fhir)
        ubrn = identifier_value(read_message(answer).focus, UBRN_SYSTEM)
        await call("broker", "GET", "/Appointment", 200)
        await call("broker", "GET", "/Appointment/$export", 200)
        await call("broker", "POST", f"/Appointment/{ubrn}/$resend", 200, headers=fhir,
                   json={"resourceType": "Parameters", "parameter": [{"name": "target", "valueCode": "pas"}]})
        await call("broker", "POST", "/Appointment/000000000000/$resend", 404, headers=fhir,
                   json={"resourceType": "Parameters", "parameter": [{"name": "target", "valueCode": "pas"}]})
        await call("broker", "POST", f"/Appointment/{ubrn}/$rebook", 200)
        await call("broker", "POST", "/Appointment/000000000000/$rebook", 404)
        await call("broker", "POST", "/$process-message", 400, json={"resourceType": "Bundle"}, headers=fhir)

        # The spine: demographics, UBRNs, the booking index.
        await call("spine", "GET", "/Patient", 200, params={"identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"})
        await call("spine", "GET", f"/Patient/{nhs}", 200)
        await call("spine", "GET", "/Patient/123", 400)
        await call("spine", "GET", f"/Appointment/{ubrn}", 200)
        await call("spine", "GET", "/Appointment/000000000000", 404)
        await call("spine", "POST", "/$allocate-ubrn", 200, headers=fhir,
                   json={"resourceType": "Parameters", "parameter": [{"name": "nhsNumber", "valueString": nhs}]})
        await call("spine", "POST", "/$process-message", 415, content=b"{}", headers={"Content-Type": "text/plain"})
        await call("spine", "POST", "/$process-message", 413, headers=fhir,
                   content=b" " * (DEFAULT_MAX_BODY_BYTES + 1))

        # A trust's PAS: directory, slots, and a published booking sent straight to it.
        await call("pas", "GET", "/Organization", 200)
        await call("pas", "GET", f"/{trust}/metadata", 200)
        await call("pas", "GET", f"/{trust}/HealthcareService/{known.service_id}", 200)
        await call("pas", "GET", f"/{trust}/Schedule/{known.service_id}", 200)
        await call("pas", "GET", f"/{trust}/Slot/{known.slot_id}", 200)
        await call("pas", "GET", f"/{trust}/Slot", 200, params={"service": "no-such-service"})
        await call("pas", "GET", f"/{trust}/Slot", 400)
        await call("pas", "GET", "/ZZ9/Slot", 404, params={"service": known.service_id})
        await call("pas", "GET", f"/{trust}/Slot", 406, params={"service": known.service_id},
                   headers={"Accept": "application/fhir+xml"})
        direct = rewrite_values(published, await known_values(client, urls, nth_slot=5))
        await call("pas", "POST", f"/{trust}/$process-message", 200, json=direct, headers=fhir)
        appointment = next(e["resource"] for e in direct["entry"] if e["resource"]["resourceType"] == "Appointment")
        appointment["comment"] = "a different message under the same id"
        await call("pas", "POST", f"/{trust}/$process-message", 409, json=direct, headers=fhir)
        await call("pas", "GET", f"/{trust}/Appointment", 200)

        # A GP system: a referral, booked and cancelled through the broker.
        referral = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                    "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
                    "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty}]}}
        created = await call("gp", "POST", f"/{practice}/ServiceRequest", 201, json=referral, headers=fhir)
        await call("gp", "POST", f"/{practice}/ServiceRequest", 422, json={**referral, "code": {"text": "?"}},
                   headers=fhir)
        await call("gp", "POST", f"/{practice}/ServiceRequest", 415, content=orjson.dumps(referral),
                   headers={"Content-Type": "text/plain"})
        await call("gp", "GET", f"/{practice}/ServiceRequest/{created['id']}", 200)
        await call("gp", "POST", f"/{practice}/ServiceRequest/{created['id']}/$book", 200, headers=fhir,
                   json={"resourceType": "Parameters",
                         "parameter": [{"name": "start", "valueDateTime": known.slot_start}]})
        bookings = await call("gp", "GET", f"/{practice}/Appointment", 200)
        booking = next(e["resource"] for e in bookings["entry"] if e["resource"]["status"] == "booked")
        await call("gp", "GET", f"/{practice}/Appointment/{booking['id']}", 200)
        await call("gp", "POST", f"/{practice}/Appointment/{booking['id']}/$cancel", 200, headers=fhir)
        await call("gp", "POST", f"/{practice}/Appointment/{booking['id']}/$cancel", 409, headers=fhir)
        await call("gp", "GET", f"/{practice}/Patient", 200, params={"_count": 2})
        await call("gp", "GET", "/Y99999/Patient", 404)


def test_control_routes_say_what_they_take_and_answer():
    """FastAPI typed every control answer a `string` and gave none a body or an error: schemathesis's
    response-schema and positive/negative checks failed on every one (tests/fuzz/)."""
    paths = document("broker")["paths"]
    assert paths["/health"]["get"]["responses"]["200"]["content"] == {FHIR_JSON: {"schema": {"type": "object"}}}
    assert paths["/metrics"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    add = paths["/faults"]["post"]
    assert add["requestBody"] == {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    assert {"400", "401", "415", "422"} <= set(add["responses"])
    assert add["responses"]["401"]["content"][FHIR_JSON]["schema"] == OUTCOME
    assert paths["/faults/reset"]["post"]["requestBody"]["required"] is False
    assert "404" in paths["/faults/{rule_id}"]["delete"]["responses"]
    assert "requestBody" not in paths["/faults/{rule_id}"]["delete"]
    assert "409" in paths["/clock/advance"]["post"]["responses"]
    assert set(paths["/clock"]["get"]["responses"]) == {"200"}
