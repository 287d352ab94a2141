"""Directory: hosted trusts, sites, services, schedules and CapabilityStatements."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from party_common.booking import service_dos, trust_org
from party_common.identifiers import DOS_SYSTEM, ODS_SITE_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM

from .helpers import assert_full_urls_read_back, next_link


def assert_valid(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


async def test_organization_lists_trusts_with_sites_as_locations(pas):
    r = await pas.get("/Organization")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = r.json()
    assert_valid(bundle)
    orgs = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    sites = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert bundle["total"] == 4
    # Each trust by its ODS code and by the DoS id BaRS messages name it by (as `trust_org` does).
    assert [o["identifier"] for o in orgs] == [[{"system": ODS_SYSTEM, "value": ods},
                                               {"system": DOS_SYSTEM, "value": trust_org(ods).dos}]
                                              for ods in ("RT1", "RT2", "RT3", "RT4")]
    assert all(o["name"].endswith("NHS Trust") for o in orgs)
    by_trust = {}
    for loc in sites:
        assert loc["resourceType"] == "Location"
        assert loc["identifier"][0]["system"] == ODS_SITE_SYSTEM
        by_trust.setdefault(loc["managingOrganization"]["identifier"]["value"], []).append(loc["id"])
    assert by_trust == {"RT1": ["RT101", "RT102"], "RT2": ["RT201", "RT202"], "RT3": ["RT301"], "RT4": ["RT401"]}


async def test_organization_search_by_identifier_and_read(pas):
    r = await pas.get("/Organization", params={"identifier": f"{ODS_SYSTEM}|RT3"})
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["RT3", "RT301"]
    r = await pas.get("/Organization/RT4")
    assert r.status_code == 200 and r.json()["name"] == "Mockbridge District Hospital NHS Trust"
    r = await pas.get("/Organization/ZZ9")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


async def test_healthcare_services_of_a_trust(pas):
    r = await pas.get("/RT1/HealthcareService")
    assert r.status_code == 200
    bundle = r.json()
    assert_valid(bundle)
    services = [e["resource"] for e in bundle["entry"]]
    assert bundle["total"] == len(services) == 11
    first = services[0]
    assert first["id"] == "rt1-rt101-cardiology"
    assert first["type"][0]["coding"][0] == {"system": SPECIALTY_SYSTEM, "code": "cardiology",
                                             "display": "Cardiology"}
    assert first["location"][0]["reference"] == "Location/RT101"
    assert first["providedBy"]["identifier"] == {"system": ODS_SYSTEM, "value": "RT1"}
    # The DoS id a BaRS message addresses the service by.
    assert first["identifier"] == [{"system": DOS_SYSTEM, "value": service_dos("rt1-rt101-cardiology")}]
    assert bundle["entry"][0]["fullUrl"] == "http://party.test/RT1/HealthcareService/rt1-rt101-cardiology"


async def test_healthcare_service_specialty_filter(pas):
    r = await pas.get("/RT2/HealthcareService", params={"specialty": "dermatology"})
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["rt2-rt201-dermatology"]
    r = await pas.get("/RT1/HealthcareService", params={"specialty": f"{SPECIALTY_SYSTEM}|ent"})
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["rt1-rt101-ent", "rt1-rt102-ent"]
    r = await pas.get("/RT1/HealthcareService", params={"specialty": "http://other.example|ent"})
    assert r.json()["total"] == 0
    r = await pas.get("/RT4/HealthcareService", params={"specialty": "cardiology"})
    assert r.json()["total"] == 0


async def test_small_trust_offers_three_services(pas):
    r = await pas.get("/RT4/HealthcareService")
    assert r.json()["total"] == 3


async def test_schedules_one_per_service(pas):
    r = await pas.get("/RT3/Schedule")
    assert r.status_code == 200
    bundle = r.json()
    assert_valid(bundle)
    schedules = [e["resource"] for e in bundle["entry"]]
    assert len(schedules) == 6
    s = schedules[0]
    assert s["actor"][0]["reference"] == f"HealthcareService/{s['id']}"
    assert s["planningHorizon"]["start"] == "2027-01-04T09:00:00Z"
    r = await pas.get(f"/RT3/Schedule/{s['id']}")
    assert r.json() == s
    assert (await pas.get("/RT3/Schedule/rt1-rt101-cardiology")).status_code == 404


async def test_locations_and_service_read(pas):
    r = await pas.get("/RT2/Location")
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["RT201", "RT202"]
    assert (await pas.get("/RT2/Location/RT202")).json()["name"] == "Wold Valley Hospital"
    assert (await pas.get("/RT2/Location/RT101")).status_code == 404
    r = await pas.get("/RT2/HealthcareService/rt2-rt202-ent")
    assert r.status_code == 200 and r.json()["location"][0]["reference"] == "Location/RT202"
    assert (await pas.get("/RT2/HealthcareService/rt1-rt101-ent")).status_code == 404


async def test_capability_statements(pas):
    root = (await pas.get("/metadata")).json()
    assert_valid(root)
    assert root["fhirVersion"] == "4.0.1"
    trust = (await pas.get("/RT1/metadata")).json()
    assert_valid(trust)
    types = {r["type"] for r in trust["rest"][0]["resource"]}
    assert {"HealthcareService", "Schedule", "Slot", "Appointment"} <= types
    assert trust["rest"][0]["operation"][0]["name"] == "process-message"
    assert "Testshire" in trust["implementation"]["description"]
    declared = {r["type"]: r for r in trust["rest"][0]["resource"]}
    assert set(declared) == {"HealthcareService", "Location", "Schedule", "Slot", "Appointment", "ServiceRequest",
                             "Organization"}
    slot = declared["Slot"]
    assert {"Schedule.actor:HealthcareService", "status", "start", "_id"} <= {p["name"] for p in slot["searchParam"]}
    assert {"Slot:schedule", "Schedule:actor:HealthcareService"} <= set(slot["searchInclude"])
    assert "patient:identifier" in {p["name"] for p in declared["Appointment"]["searchParam"]}


_VALUES = {"token": "x", "reference": "x", "date": "ge2027-01-04"}


async def test_every_declared_search_parameter_and_include_is_honoured_strictly(pas):
    """What the CapabilityStatement declares is what the routes take, even under `handling=strict`."""
    trust = (await pas.get("/RT1/metadata")).json()
    strict = {"Prefer": "handling=strict"}
    checked = 0
    for resource in trust["rest"][0]["resource"]:
        path = f"/RT1/{resource['type']}"
        base = {"service": "rt1-rt101-cardiology"} if resource["type"] == "Slot" else {}
        example = {"status": "free"} if resource["type"] == "Slot" else {}
        for param in resource.get("searchParam", []):
            value = example.get(param["name"], _VALUES[param["type"]])
            r = await pas.get(path, params={**base, param["name"]: value}, headers=strict)
            assert r.status_code == 200, (path, param["name"], r.text)
            checked += 1
        for spelling in resource.get("searchInclude", []):
            r = await pas.get(path, params={**base, "_include": spelling}, headers=strict)
            assert r.status_code == 200, (path, spelling, r.text)
    assert checked > 25


async def test_the_openapi_document_lists_the_search_parameters(pas):
    doc = (await pas.get("/openapi.json")).json()
    names = {p["name"] for p in doc["paths"]["/{ods}/Slot"]["get"]["parameters"]}
    assert {"Schedule.actor:HealthcareService", "status", "start", "_include", "_count", "_page"} <= names
    names = {p["name"] for p in doc["paths"]["/{ods}/Appointment"]["get"]["parameters"]}
    assert {"patient:identifier", "identifier", "date", "_sort", "_offset"} <= names


async def test_unknown_trust_is_404_operation_outcome(pas):
    for path in ("/ZZ9/metadata", "/ZZ9/HealthcareService", "/ZZ9/Schedule", "/ZZ9/Slot?service=x",
                 "/ZZ9/Appointment", "/ZZ9/Slot/rt1-rt101-cardiology-202701040830"):
        r = await pas.get(path)
        assert r.status_code == 404, path
        outcome = r.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert "ZZ9" in outcome["issue"][0]["diagnostics"]


async def test_ods_in_path_is_case_insensitive(pas):
    r = await pas.get("/rt4/HealthcareService")
    assert r.status_code == 200 and r.json()["total"] == 3


async def test_health(pas):
    r = await pas.get("/health")
    assert r.json() == {"status": "ok", "party": "trust_pas", "trusts": ["RT1", "RT2", "RT3", "RT4"]}


async def test_wrong_method_is_405(pas):
    r = await pas.delete("/RT1/HealthcareService")
    assert r.status_code == 405 and r.json()["issue"][0]["code"] == "not-supported"


async def test_catalogue_and_calendar_come_from_the_environment(monkeypatch, sqlite_url):
    from tests.inprocess import client_for
    from trust_pas.app import create_app

    monkeypatch.setenv("PAS_TRUSTS", '[{"ods": "RX9", "name": "Elsewhere NHS Trust", "sessions": '
                       '[{"days": ["mon"], "start": "09:00", "end": "10:00", "slot_minutes": 30}], '
                       '"sites": [{"code": "RX901", "name": "Elsewhere Hospital", "specialties": ["ent"]}]}]')
    monkeypatch.setenv("PAS_CALENDAR_START", "2027-02-01")
    monkeypatch.setenv("PAS_HORIZON_DAYS", "14")
    monkeypatch.setenv("PAS_DATABASE_URL", sqlite_url)
    async with client_for(create_app()) as pas:
        orgs = (await pas.get("/Organization")).json()
        assert [e["resource"]["id"] for e in orgs["entry"]] == ["RX9", "RX901"]
        assert (await pas.get("/RT1/HealthcareService")).status_code == 404
        r = await pas.get("/RX9/Slot", params={"service": "rx9-rx901-ent", "_count": 100})
        assert [e["resource"]["start"] for e in r.json()["entry"]] == [
            "2027-02-01T09:00:00Z", "2027-02-01T09:30:00Z", "2027-02-08T09:00:00Z", "2027-02-08T09:30:00Z"]


async def test_directory_searches_by_their_parameters(pas):
    dos = service_dos("rt1-rt102-ent")

    async def ids(path: str, **params) -> list[str]:
        r = await pas.get(path, params=params)
        assert r.status_code == 200, r.text
        return [e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"]

    assert await ids("/RT1/HealthcareService", identifier=f"{DOS_SYSTEM}|{dos}") == ["rt1-rt102-ent"]
    assert await ids("/RT1/HealthcareService", identifier=dos) == ["rt1-rt102-ent"]
    assert await ids("/RT1/HealthcareService", **{"service-type": "ent"}) == ["rt1-rt101-ent", "rt1-rt102-ent"]
    assert len(await ids("/RT1/HealthcareService", location="Location/RT102")) == 5
    assert len(await ids("/RT1/HealthcareService", organization="Organization/RT1")) == 11
    assert await ids("/RT1/HealthcareService", organization="RT2") == []
    assert await ids("/RT1/HealthcareService", _id="rt1-rt101-ent,rt1-rt102-ent,x") == ["rt1-rt101-ent",
                                                                                         "rt1-rt102-ent"]
    assert await ids("/RT1/Schedule", actor="HealthcareService/rt1-rt102-ent") == ["rt1-rt102-ent"]
    assert len(await ids("/RT1/Schedule", actor="Location/RT102")) == 5
    assert await ids("/RT1/Schedule", **{"service-type": f"{SPECIALTY_SYSTEM}|gastroenterology"}) == [
        "rt1-rt101-gastroenterology"]
    assert await ids("/RT2/Location", identifier=f"{ODS_SITE_SYSTEM}|RT202") == ["RT202"]
    assert await ids("/RT2/Location", organization="Organization/RT2") == ["RT201", "RT202"]
    assert await ids("/RT2/Organization") == ["RT2"]
    assert await ids("/RT2/Organization", identifier=f"{ODS_SYSTEM}|RT1") == []
    assert await ids("/Organization", identifier="rt2") == ["RT2"]
    assert await ids("/Organization", identifier=f"{DOS_SYSTEM}|{trust_org('RT4').dos}") == ["RT4"]


async def test_directory_paging_includes_and_every_full_url_reads_back(pas):
    first = (await pas.get("/RT1/HealthcareService", params={"_count": 4, "_include": "HealthcareService:providedBy",
                                                             "_include:iterate": "HealthcareService:location"})).json()
    assert first["total"] == 11 and len([e for e in first["entry"] if e["search"]["mode"] == "match"]) == 4
    assert sorted(e["resource"]["id"] for e in first["entry"] if e["search"]["mode"] == "include") == [
        "RT1", "RT101"]
    await assert_full_urls_read_back(pas, first)
    seen, url = [], "/RT1/HealthcareService?_count=4"
    while url:
        page = (await pas.get(url)).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next_link(page)
    assert len(seen) == 11 == len(set(seen))
    for path, params in (("/RT1/Schedule", {"_include": "Schedule:actor"}),
                         ("/RT2/Location", {"_include": "Location:organization"}),
                         ("/RT2/Organization", {}), ("/Organization", {})):
        bundle = (await pas.get(path, params=params)).json()
        assert bundle["entry"], path
        await assert_full_urls_read_back(pas, bundle)
    assert (await pas.get("/RT2/Organization/RT1")).status_code == 404
    assert "entry" not in (await pas.get("/RT1/HealthcareService", params={"_count": 0})).json()
