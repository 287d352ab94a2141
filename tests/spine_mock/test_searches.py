"""The spine's searches on the shared layer: the booking index by UBRN, patient and status; the
demographics by NHS number, family name and birth date; every fullUrl reads back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, update

from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM
from spine_mock.models import BookingIndexEntry, Patient

from .conftest import POPULATION

BASE = "http://party.test"


@pytest.fixture
def spine(spine_any_db):
    """Every search here runs on both databases: the conditions are SQL each must read alike."""
    return spine_any_db


async def _search(spine, path: str, params=None) -> dict:
    r = await spine.http.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


async def _reads_back(spine, bundle: dict) -> None:
    assert bundle["entry"], "nothing to read back"
    for entry in bundle["entry"]:
        read = await spine.http.get(entry["fullUrl"])
        assert read.status_code == 200, entry["fullUrl"]
        assert read.json() == entry["resource"]


async def _index(spine, patients: list[str], cancelled: set[int] = frozenset()) -> list[str]:
    """One index entry per item of `patients` (an NHS number), UBRNs in order."""
    now = datetime.now(timezone.utc)
    rows = [{"ubrn": f"{i + 1:012d}", "nhs_number": nhs, "service_id": "S", "slot_id": f"S-{i}",
             "status": "cancelled" if i in cancelled else "booked", "updated_at": now}
            for i, nhs in enumerate(patients)]
    async with spine.db.engine.begin() as conn:
        await conn.execute(insert(BookingIndexEntry), rows)
    return [r["ubrn"] for r in rows]


async def test_index_patient_identifier_finds_only_that_patients_bookings(spine, population):
    a, b = population[0].nhs_number, population[1].nhs_number
    ubrns = await _index(spine, [a, b, a, b, a])
    body = await _search(spine, "/Appointment", {"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{a}"})
    assert body["total"] == 3 and _ids(body) == ubrns[0::2]
    assert {e["resource"]["participant"][0]["actor"]["identifier"]["value"] for e in body["entry"]} == {a}
    for token, total in ((b, 2), (f"{NHS_NUMBER_SYSTEM}|{a},{NHS_NUMBER_SYSTEM}|{b}", 5),
                         (f"https://example.org/mrn|{a}", 0), (population[2].nhs_number, 0)):
        assert (await _search(spine, "/Appointment", {"patient:identifier": token}))["total"] == total, token


async def test_index_by_ubrn_status_and_id(spine, population):
    ubrns = await _index(spine, [p.nhs_number for p in population[:4]], cancelled={1, 3})
    for params, expected in (({"identifier": f"{UBRN_SYSTEM}|{ubrns[2]}"}, [ubrns[2]]),
                             ({"identifier": f"{UBRN_SYSTEM}|{ubrns[0]},{ubrns[3]}"}, [ubrns[0], ubrns[3]]),
                             ({"status": "cancelled"}, [ubrns[1], ubrns[3]]), ({"status": "booked"}, ubrns[0::2]),
                             ({"_id": f"{ubrns[3]},{ubrns[1]}", "status": "booked"}, []),
                             ({"_id": ubrns[1]}, [ubrns[1]])):
        assert _ids(await _search(spine, "/Appointment", params)) == expected, params


async def test_index_count_zero_and_every_fullurl_reads_back(spine, population):
    await _index(spine, [p.nhs_number for p in population[:5]])
    counted = await _search(spine, "/Appointment", {"_count": 0})
    assert counted["total"] == 5 and "entry" not in counted
    body = await _search(spine, "/Appointment")
    assert all(e["fullUrl"] == f"{BASE}/Appointment/{e['resource']['id']}" for e in body["entry"])
    await _reads_back(spine, body)


async def test_patient_by_family_name_starts_with_case_ignored(spine, population):
    family = population[5].family
    expected = sorted(p.nhs_number for p in population if p.family.lower().startswith(family[:3].lower()))
    body = await _search(spine, "/Patient", {"family": family[:3].upper(), "_count": 100})
    assert _ids(body) == expected and body["total"] == len(expected)
    both = sorted(p.nhs_number for p in population if p.family in (family, population[6].family))
    assert _ids(await _search(spine, "/Patient", {"family": f"{family},{population[6].family}",
                                                   "_count": 100})) == both


async def test_patient_family_takes_like_wildcards_literally(spine, population):
    nhs = population[0].nhs_number
    async with spine.db.engine.begin() as conn:
        await conn.execute(update(Patient).where(Patient.nhs_number == nhs).values(family="O_Brien%"))
    assert _ids(await _search(spine, "/Patient", {"family": "o_b"})) == [nhs]
    assert _ids(await _search(spine, "/Patient", {"family": "O_Brien%"})) == [nhs]
    assert (await _search(spine, "/Patient", {"family": "%"}))["total"] == 0
    assert (await _search(spine, "/Patient", {"family": "_"}))["total"] == 0


async def test_patient_by_birthdate(spine, population):
    born = population[4].birth_date
    day = born.isoformat()

    def expect(test) -> list[str]:
        return sorted(p.nhs_number for p in population if test(p.birth_date))

    for params, expected in ((day, expect(lambda d: d == born)), (f"eq{day}", expect(lambda d: d == born)),
                             (f"ge{day}", expect(lambda d: d >= born)), (f"gt{day}", expect(lambda d: d > born)),
                             (f"lt{day}", expect(lambda d: d < born)), (f"le{day}", expect(lambda d: d <= born)),
                             (day[:7], expect(lambda d: (d.year, d.month) == (born.year, born.month))),
                             (f"ge{day}T00:00:01Z", expect(lambda d: d > born)),
                             ("lt0001-01-02", []), ("ge9999-12-31T00:00:01Z", [])):
        body = await _search(spine, "/Patient", {"birthdate": params, "_count": 0})
        assert body["total"] == len(expected), params
        if expected and len(expected) <= 100:
            assert _ids(await _search(spine, "/Patient", {"birthdate": params, "_count": 100})) == expected, params
    both = await _search(spine, "/Patient", [("birthdate", f"ge{day}"), ("birthdate", f"le{day}"), ("_count", "100")])
    assert _ids(both) == expect(lambda d: d == born)


async def test_patient_by_identifier_and_id_and_every_fullurl_reads_back(spine, population):
    a, b = population[0].nhs_number, population[1].nhs_number
    assert _ids(await _search(spine, "/Patient", {"_id": f"{b},{a}"})) == sorted([a, b])
    assert _ids(await _search(spine, "/Patient", {"identifier": f"{NHS_NUMBER_SYSTEM}|{a}", "_id": b})) == []
    body = await _search(spine, "/Patient", {"_count": 10})
    assert body["total"] == POPULATION
    await _reads_back(spine, body)


async def test_capability_declares_what_each_search_honours(spine):
    statement = (await spine.http.get("/metadata")).json()
    declared = {r["type"]: {p["name"] for p in r.get("searchParam", [])} for r in statement["rest"][0]["resource"]}
    assert declared == {"Patient": {"_id", "identifier", "family", "birthdate"},
                        "Appointment": {"_id", "identifier", "patient:identifier", "status"}}
