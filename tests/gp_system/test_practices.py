"""Practices hosted, registered patients (seeded from the synthetic population), metadata."""

from __future__ import annotations

from party_common.identifiers import ODS_SYSTEM
from party_common.population import PRACTICES
from tests.inprocess import client_for

from .conftest import GP, OTHER_PRACTICE, POPULATION_SIZE, PRACTICE, make_stack_parts


async def test_organization_lists_every_practice(stack):
    resp = await stack.client.get("/Organization")
    assert resp.status_code == 200
    orgs = [e["resource"] for e in resp.json()["entry"]]
    assert [o["identifier"][0] for o in orgs] == [{"system": ODS_SYSTEM, "value": ods} for ods, _ in PRACTICES]
    assert [o["name"] for o in orgs] == [name for _, name in PRACTICES]
    assert resp.json()["total"] == len(PRACTICES)


async def test_patients_are_the_practices_registered_population(stack):
    expected = sorted(p.nhs_number for p in stack.population if p.gp_ods == PRACTICE)
    resp = await stack.client.get(f"/{PRACTICE}/Patient", params={"_count": 1000})
    body = resp.json()
    assert resp.status_code == 200
    assert body["total"] == len(expected)
    assert [e["resource"]["id"] for e in body["entry"]] == expected
    first = body["entry"][0]["resource"]
    assert first["generalPractitioner"][0]["identifier"] == {"system": ODS_SYSTEM, "value": PRACTICE}
    seeded = next(p for p in stack.population if p.nhs_number == first["id"])
    assert first["name"][0]["family"] == seeded.family
    assert first["birthDate"] == seeded.birth_date.isoformat()


async def test_patient_paging_walks_every_patient_once(stack):
    expected = sorted(p.nhs_number for p in stack.population if p.gp_ods == OTHER_PRACTICE)
    seen, url = [], f"/{OTHER_PRACTICE}/Patient?_count=7"
    pages = 0
    while url:
        body = (await stack.client.get(url)).json()
        assert len(body["entry"]) <= 7
        seen += [e["resource"]["id"] for e in body["entry"]]
        nxt = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        url = nxt.removeprefix(GP) if nxt else None
        pages += 1
    assert seen == expected
    assert pages == -(-len(expected) // 7)


async def test_patient_offset_past_the_end_is_empty(stack):
    body = (await stack.client.get(f"/{PRACTICE}/Patient", params={"_offset": 10_000})).json()
    assert body.get("entry", []) == []
    assert body["total"] > 0


async def test_count_zero_answers_the_total_alone(stack):
    body = (await stack.client.get(f"/{PRACTICE}/Patient", params={"_count": 0})).json()
    assert body["total"] == sum(p.gp_ods == PRACTICE for p in stack.population) and "entry" not in body


async def test_bad_paging_parameters_are_400_naming_the_parameter(stack):
    for params, name in (({"_count": "-1"}, "_count"), ({"_count": "many"}, "_count"), ({"_offset": "-1"}, "_offset"),
                         ({"_page": "not-a-token"}, "_page")):
        resp = await stack.client.get(f"/{PRACTICE}/Patient", params=params)
        assert resp.status_code == 400, params
        issue = resp.json()["issue"][0]
        assert resp.json()["resourceType"] == "OperationOutcome"
        assert issue["expression"] == [name]


async def test_unknown_practice_is_404(stack):
    for path in ("/Y99999/Patient", "/Y99999/Appointment", "/Y99999/ServiceRequest/x"):
        resp = await stack.client.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["issue"][0]["code"] == "not-found"


async def test_seeding_twice_keeps_one_registration_each(sqlite_url):
    for _ in range(2):
        app, *_ = make_stack_parts(sqlite_url)
        async with client_for(app, base_url=GP) as client:
            totals = [(await client.get(f"/{ods}/Patient")).json()["total"] for ods, _ in PRACTICES]
    assert sum(totals) == POPULATION_SIZE


async def test_metadata_is_a_capability_statement(stack):
    """The root holds the practices; a practice's base holds the rest, and says so: a FHIR client
    given `/{ods}` reads what it can do there, at that base."""
    root = (await stack.client.get("/metadata")).json()
    assert root["resourceType"] == "CapabilityStatement" and root["fhirVersion"] == "4.0.1"
    assert {r["type"]: {p["name"] for p in r.get("searchParam", [])} for r in root["rest"][0]["resource"]} \
        == {"Organization": {"_id", "identifier"}}
    assert "operation" not in root["rest"][0]
    assert root["implementation"]["url"] == GP
    body = (await stack.client.get(f"/{PRACTICE}/metadata")).json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    assert body["implementation"]["url"] == f"{GP}/{PRACTICE}" and body["url"] == f"{GP}/{PRACTICE}/metadata"
    assert [e["address"] for e in body["messaging"][0]["endpoint"]] == [f"{GP}/{PRACTICE}"]
    types = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert [op["name"] for op in types["ServiceRequest"]["operation"]] == ["book"]
    # Declared from the specs the routes parse with: what is honoured, nothing else.
    declared = {t: {p["name"] for p in r.get("searchParam", [])} for t, r in types.items()}
    assert declared == {"Patient": {"_id", "identifier"},
                        "ServiceRequest": {"_id", "patient:identifier", "identifier", "status"},
                        "Appointment": {"_id", "patient:identifier", "identifier", "status", "date"}}
    assert {i["code"] for i in types["Appointment"]["interaction"]} == {"read", "search-type"}
    assert [op["name"] for op in body["rest"][0]["operation"]] == ["process-message"]
