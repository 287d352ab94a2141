"""Directory: hosted trusts, sites, services, schedules and CapabilityStatements."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from party_common.booking import service_dos, trust_org
from party_common.identifiers import DOS_SYSTEM, ODS_SITE_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM


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
