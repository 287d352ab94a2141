"""`$allocate-ubrn`: format, uniqueness under concurrency, recording, and every refusal."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

from sqlalchemy import insert, select

from party_common.identifiers import NHS_NUMBER_SYSTEM, ubrn_from_sequence
from spine_mock.models import UbrnAllocation
from tests.inprocess import FHIR_HEADERS

from .conftest import SEED, UNKNOWN_NHS, first_issue, nhs_param, parameters, post_allocate, ubrn_of


async def test_allocates_a_12_digit_ubrn_and_records_it(spine, population):
    nhs = population[0].nhs_number
    r = await post_allocate(spine.http, parameters(nhs_param(nhs)))
    assert r.status_code == 200
    ubrn = ubrn_of(r)
    assert re.fullmatch(r"\d{12}", ubrn)
    async with spine.db.session() as session:
        [row] = (await session.execute(select(UbrnAllocation))).scalars().all()
    assert (row.ubrn, row.nhs_number) == (ubrn, nhs)
    assert row.allocated_at is not None


async def test_nhs_number_as_identifier_is_accepted(spine, population):
    param = {"name": "nhsNumber", "valueIdentifier": {"system": NHS_NUMBER_SYSTEM,
                                                      "value": population[1].nhs_number}}
    r = await post_allocate(spine.http, parameters(param))
    assert r.status_code == 200
    assert re.fullmatch(r"\d{12}", ubrn_of(r))


async def test_every_call_gets_a_new_ubrn(spine, population):
    nhs = population[0].nhs_number
    ubrns = [ubrn_of(await post_allocate(spine.http, parameters(nhs_param(nhs)))) for _ in range(5)]
    assert len(set(ubrns)) == 5


async def test_concurrent_allocations_are_unique(spine_any_db, population):
    calls = [post_allocate(spine_any_db.http, parameters(nhs_param(population[i % len(population)].nhs_number)))
             for i in range(500)]
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 500
    ubrns = [ubrn_of(r) for r in responses]
    assert all(re.fullmatch(r"\d{12}", u) for u in ubrns)
    assert len(set(ubrns)) == 500
    async with spine_any_db.db.session() as session:
        stored = (await session.execute(select(UbrnAllocation.ubrn))).scalars().all()
    assert sorted(stored) == sorted(ubrns)


async def test_a_ubrn_already_taken_is_skipped(spine_any_db, population):
    # A row outside the sequence's path already holds the UBRN the next draw would derive, as after
    # the salt changed over an old database: the allocation must draw again, not fail.
    db = spine_any_db.db
    parked_seq = 1_000_000
    # SQLite's AUTOINCREMENT continues after the highest seq; a PostgreSQL sequence ignores it.
    next_seq = parked_seq + 1 if db.is_sqlite else 1
    async with db.engine.begin() as conn:
        await conn.execute(insert(UbrnAllocation), [{
            "seq": parked_seq, "ubrn": ubrn_from_sequence(next_seq, salt=SEED),
            "nhs_number": population[0].nhs_number, "allocated_at": datetime.now(timezone.utc)}])
    r = await post_allocate(spine_any_db.http, parameters(nhs_param(population[1].nhs_number)))
    assert r.status_code == 200
    assert ubrn_of(r) == ubrn_from_sequence(next_seq + 1, salt=SEED)
    async with db.session() as session:
        rows = (await session.execute(select(UbrnAllocation.seq, UbrnAllocation.ubrn))).all()
    # The spent draw leaves no half-made allocation behind.
    assert dict(rows) == {next_seq + 1: ubrn_of(r), parked_seq: ubrn_from_sequence(next_seq, salt=SEED)}


async def test_unknown_patient_is_422_business_rule(spine_any_db):
    r = await post_allocate(spine_any_db.http, parameters(nhs_param(UNKNOWN_NHS)))
    assert r.status_code == 422
    issue = first_issue(r)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Parameters.parameter[0]"]
    async with spine_any_db.db.session() as session:
        assert (await session.execute(select(UbrnAllocation))).first() is None


async def test_unknown_patient_expression_points_at_the_parameter(spine):
    r = await post_allocate(spine.http, parameters({"name": "reason", "valueString": "x"}, nhs_param(UNKNOWN_NHS)))
    assert r.status_code == 422
    assert first_issue(r)["expression"] == ["Parameters.parameter[1]"]


async def test_missing_parameter_is_400_required(spine):
    for body in (parameters({"name": "other", "valueString": "x"}), {"resourceType": "Parameters"}):
        r = await post_allocate(spine.http, body)
        assert r.status_code == 400
        issue = first_issue(r)
        assert issue["code"] == "required"
        assert issue["expression"] == ["Parameters.parameter"]


async def test_malformed_nhs_number_is_400(spine):
    r = await post_allocate(spine.http, parameters(nhs_param("1234567890")))
    assert r.status_code == 400
    assert first_issue(r)["expression"] == ["Parameters.parameter[0].valueString"]


async def test_identifier_with_wrong_system_is_400(spine, population):
    param = {"name": "nhsNumber", "valueIdentifier": {"system": "https://example.org/mrn",
                                                      "value": population[0].nhs_number}}
    r = await post_allocate(spine.http, parameters(param))
    assert r.status_code == 400
    assert first_issue(r)["expression"] == ["Parameters.parameter[0].valueIdentifier.system"]


async def test_parameter_without_value_is_400(spine):
    r = await post_allocate(spine.http, parameters({"name": "nhsNumber", "valueInteger": 9}))
    assert r.status_code == 400
    assert first_issue(r)["expression"] == ["Parameters.parameter[0].value[x]"]


async def test_wrong_content_type_is_415(spine, population):
    r = await spine.http.post("/$allocate-ubrn", content=b'{"resourceType": "Parameters"}',
                              headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert first_issue(r)["code"] == "not-supported"


async def test_unparsable_json_is_400(spine):
    r = await spine.http.post("/$allocate-ubrn", content=b'{"resourceType": "Param', headers=FHIR_HEADERS)
    assert r.status_code == 400
    assert first_issue(r)["code"] == "structure"


async def test_other_resource_type_is_400_on_resource_type(spine, population):
    r = await post_allocate(spine.http, {"resourceType": "Patient"})
    assert r.status_code == 400
    assert first_issue(r)["expression"] == ["resourceType"]


async def test_invalid_parameters_is_400_naming_the_element(spine):
    r = await post_allocate(spine.http, {"resourceType": "Parameters", "parameter": [{"name": 5, "bogus": 1}]})
    assert r.status_code == 400
    assert any(e.startswith("Parameters.parameter[0]") for i in r.json()["issue"] for e in i["expression"])


async def test_get_on_allocate_is_405(spine):
    r = await spine.http.get("/$allocate-ubrn")
    assert r.status_code == 405
    assert first_issue(r)["code"] == "not-supported"
