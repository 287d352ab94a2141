"""Demographics: Patient read and search, and the population seeded at startup."""

from __future__ import annotations

from sqlalchemy import event, func, select

from party_common.database import Database
from party_common.identifiers import NHS_NUMBER_SYSTEM
from spine_mock.app import create_app
from spine_mock.models import Base, Patient
from spine_mock.seed import seed_patients
from tests.inprocess import client_for

from .conftest import POPULATION, SEED, UNKNOWN_NHS, first_issue, spine_settings

async def test_read_returns_the_synthetic_patient(spine, population):
    for patient in (population[0], population[-1]):
        r = await spine.http.get(f"/Patient/{patient.nhs_number}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/fhir+json")
        assert r.json() == patient.to_fhir()


async def test_read_malformed_nhs_number_is_400_on_patient_id(spine, population):
    good = population[0].nhs_number
    bad_check_digit = good[:9] + str((int(good[9]) + 1) % 10)
    for bad in ("999000001", "99900000181", "abcdefghij", bad_check_digit):
        r = await spine.http.get(f"/Patient/{bad}")
        assert r.status_code == 400, bad
        issue = first_issue(r)
        assert issue["code"] == "invalid"
        assert issue["expression"] == ["Patient.id"]


async def test_read_unknown_patient_is_404(spine):
    r = await spine.http.get(f"/Patient/{UNKNOWN_NHS}")
    assert r.status_code == 404
    assert first_issue(r)["code"] == "not-found"


async def test_search_by_identifier_finds_one(spine, population):
    patient = population[3]
    r = await spine.http.get("/Patient", params={"identifier": f"{NHS_NUMBER_SYSTEM}|{patient.nhs_number}"})
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    assert [e["resource"] for e in bundle["entry"]] == [patient.to_fhir()]
    assert bundle["entry"][0]["fullUrl"].endswith(f"/Patient/{patient.nhs_number}")


async def test_search_without_system_matches_on_value(spine, population):
    r = await spine.http.get("/Patient", params={"identifier": population[1].nhs_number})
    assert r.status_code == 200
    assert r.json()["total"] == 1


async def test_search_unknown_or_malformed_finds_none(spine):
    for value in (UNKNOWN_NHS, "12345"):
        r = await spine.http.get("/Patient", params={"identifier": f"{NHS_NUMBER_SYSTEM}|{value}"})
        assert r.status_code == 200
        assert r.json()["total"] == 0
        assert "entry" not in r.json()


async def test_search_without_parameters_pages_the_whole_population(spine):
    r = await spine.http.get("/Patient", params={"_count": 7})
    assert r.status_code == 200
    assert r.json()["total"] == POPULATION and len(r.json()["entry"]) == 7


async def test_search_with_another_system_finds_none(spine, population):
    r = await spine.http.get("/Patient", params={"identifier": f"https://example.org/mrn|{population[0].nhs_number}"})
    assert r.status_code == 200
    assert r.json()["total"] == 0


async def test_wrong_method_on_patient_is_405(spine, population):
    r = await spine.http.delete(f"/Patient/{population[0].nhs_number}")
    assert r.status_code == 405
    assert first_issue(r)["code"] == "not-supported"


async def test_startup_seeds_the_configured_population(sqlite_url):
    app = create_app(spine_settings(sqlite_url))
    async with client_for(app):
        async with app.state.db.session() as session:
            count = (await session.execute(select(func.count()).select_from(Patient))).scalar_one()
    assert count == POPULATION


async def test_seeding_is_one_bulk_insert_and_only_when_empty(sqlite_url):
    db = Database(sqlite_url, Base)
    await db.start()
    statements: list[tuple[str, bool]] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, executemany))

    try:
        assert await seed_patients(db, SEED, 2000) == 2000
        inserts = [s for s in statements if s[0].lstrip().upper().startswith("INSERT")]
        # A row-at-a-time seed would show 2,000 INSERT executions here.
        assert len(inserts) == 1 and inserts[0][1] is True
        statements.clear()
        assert await seed_patients(db, SEED, 2000) == 0
        assert not [s for s in statements if s[0].lstrip().upper().startswith("INSERT")]
        async with db.session() as session:
            assert (await session.execute(select(func.count()).select_from(Patient))).scalar_one() == 2000
    finally:
        await db.dispose()


async def test_metadata_lists_resources_and_operations(spine):
    r = await spine.http.get("/metadata")
    assert r.status_code == 200
    cap = r.json()
    assert cap["resourceType"] == "CapabilityStatement"
    assert cap["fhirVersion"] == "4.0.1"
    rest = cap["rest"][0]
    by_type = {res["type"]: {i["code"] for i in res["interaction"]} for res in rest["resource"]}
    assert {"read", "search-type"} <= by_type["Patient"]
    assert "search-type" in by_type["Appointment"]
    assert {op["name"] for op in rest["operation"]} == {"allocate-ubrn", "process-message"}
