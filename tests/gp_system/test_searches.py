"""The GP system's searches on the shared layer: what each parameter finds, and every fullUrl reads back."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select, update

from gp_system.models import BOOKED, CANCEL_REQUESTED, CANCELLED, FAILED, REQUESTED, Booking, Referral
from gp_system.views import shown_status, shown_status_column
from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, DOS_SYSTEM, UBRN_SYSTEM, dos_id
from party_common.population import PRACTICES
from party_common.referral import REFERRAL_STATE_EXT

from .conftest import GP, OTHER_PRACTICE, PRACTICE, service_request
from .test_appointments import book_many


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Every search here runs on both databases: the conditions are SQL each must read alike."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


async def _search(stack, path: str, params=None) -> dict:
    resp = await stack.client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _ubrns(bundle: dict) -> list[str]:
    return [e["resource"]["identifier"][0]["value"] for e in bundle.get("entry", [])]


async def _reads_back(stack, bundle: dict) -> None:
    assert bundle["entry"], "nothing to read back"
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith(GP)
        read = await stack.client.get(entry["fullUrl"].removeprefix(GP))
        assert read.status_code == 200, entry["fullUrl"]
        assert read.json() == entry["resource"]


async def _set_booking(stack, ubrn: str, **values) -> None:
    async with stack.app.state.db.writing() as session:
        await session.execute(update(Booking).where(Booking.ubrn == ubrn).values(**values))


# --- Appointment ---------------------------------------------------------------------------------------

async def test_patient_identifier_finds_only_that_patients_bookings(stack):
    ubrns = await book_many(stack, 3)
    # A second referral and booking for the first patient.
    again = await stack.refer(nhs=stack.patient_at(PRACTICE, 0))
    assert (await stack.book(again["id"], start="2030-01-01T00:00:00Z")).status_code == 200
    first, second = stack.patient_at(PRACTICE, 0), stack.patient_at(PRACTICE, 1)

    body = await _search(stack, f"/{PRACTICE}/Appointment", {"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{first}"})
    assert body["total"] == 2 and _ubrns(body)[0] == ubrns[0]
    assert all(e["resource"]["participant"][0]["actor"]["identifier"]["value"] == first for e in body["entry"])
    for token, total in ((second, 1), (f"{NHS_NUMBER_SYSTEM}|{first},{NHS_NUMBER_SYSTEM}|{second}", 3),
                         (f"http://fhir.nhs.uk/id/nhs-number|{second}", 1),  # the NHS systems' other spelling
                         (f"{NHS_NUMBER_SYSTEM}|", 4), (f"urn:other|{first}", 0), (f"|{first}", 0),
                         (stack.patient_at(OTHER_PRACTICE), 0)):
        assert (await _search(stack, f"/{PRACTICE}/Appointment", {"patient:identifier": token}))["total"] == total, token
    assert ("patient:identifier", f"{NHS_NUMBER_SYSTEM}|{first}") in parse_qsl(urlsplit(body["link"][0]["url"]).query)


async def test_status_searches_the_status_the_practice_sees(stack):
    ubrns = await book_many(stack, 4)  # answered, not yet confirmed: proposed
    await _set_booking(stack, ubrns[1], status=CANCELLED)
    await _set_booking(stack, ubrns[2], status=CANCEL_REQUESTED, pre_cancel_status=BOOKED)  # still booked
    await _set_booking(stack, ubrns[3], status=FAILED)
    for status, expected in (("booked", [ubrns[2]]), ("cancelled", [ubrns[1]]), ("proposed", [ubrns[0]]),
                             ("entered-in-error", [ubrns[3]]), ("cancelled,entered-in-error", ubrns[1::2]),
                             ("http://hl7.org/fhir/appointmentstatus|booked", [ubrns[2]]), ("noshow", [])):
        body = await _search(stack, f"/{PRACTICE}/Appointment", {"status": status})
        assert _ubrns(body) == expected, status
        assert {e["resource"]["status"] for e in body.get("entry", [])} <= {v.split("|")[-1] for v in status.split(",")}


async def test_the_status_column_is_the_status_shown_for_every_local_state(stack):
    [ubrn] = await book_many(stack, 1)
    states = (REQUESTED, BOOKED, FAILED, CANCEL_REQUESTED, CANCELLED, "unheard-of")
    for status, before in itertools.product(states, (None, *states)):
        await _set_booking(stack, ubrn, status=status, pre_cancel_status=before)
        async with stack.app.state.db.session() as session:
            row = (await session.execute(select(Booking).where(Booking.ubrn == ubrn))).scalar_one()
            in_sql = (await session.execute(select(shown_status_column()).where(Booking.ubrn == ubrn))).scalar_one()
        assert in_sql == shown_status(row), (status, before)


async def test_date_compares_instants_whatever_offset_the_start_was_written_in(stack):
    ubrns = await book_many(stack, 5)  # starts: 01-07 09:00, 01-07 09:15, 01-06 14:00, 01-08 09:00, 01-09 09:00
    # The same instant as 2030-01-07T09:15:00Z, written as another party might have sent it.
    await _set_booking(stack, ubrns[1], start="2030-01-07T10:15:00+01:00")
    for params, expected in (({"date": "2030-01-07"}, ubrns[:2]),
                             ({"date": "ge2030-01-07T09:15:00Z"}, [ubrns[1], ubrns[3], ubrns[4]]),
                             ({"date": ["ge2030-01-07", "lt2030-01-09"]}, [ubrns[0], ubrns[1], ubrns[3]]),
                             ({"date": "lt2030-01-07"}, [ubrns[2]]),
                             ({"date": "gt2030-01-07T09:15:00+00:00"}, ubrns[3:])):
        assert _ubrns(await _search(stack, f"/{PRACTICE}/Appointment", params)) == expected, params


async def test_sort_by_date_and_a_date_search_pages_by_next_links(stack):
    ubrns = await book_many(stack, 5)
    by_start = [ubrns[2], ubrns[0], ubrns[1], ubrns[3], ubrns[4]]
    assert _ubrns(await _search(stack, f"/{PRACTICE}/Appointment", {"_sort": "date"})) == by_start
    assert _ubrns(await _search(stack, f"/{PRACTICE}/Appointment", {"_sort": "-date"})) == by_start[::-1]
    seen, url = [], f"/{PRACTICE}/Appointment?date=ge2030-01-07&_sort=-date&_count=2"
    while url:
        body = await _search(stack, url)
        assert body["total"] == 4
        seen += _ubrns(body)
        nxt = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        url = nxt.removeprefix(GP) if nxt else None
    assert seen == by_start[1:][::-1]


async def test_id_count_zero_and_strict_handling(stack):
    ubrns = await book_many(stack, 3)
    every = await _search(stack, f"/{PRACTICE}/Appointment")
    ids = _ids(every)
    body = await _search(stack, f"/{PRACTICE}/Appointment", {"_id": f"{ids[2]},{ids[0]},nope"})
    assert _ubrns(body) == [ubrns[0], ubrns[2]]
    for params in ({"_count": 0}, {"_summary": "count"}):
        counted = await _search(stack, f"/{PRACTICE}/Appointment", {**params, "identifier": f"{UBRN_SYSTEM}|"})
        assert counted["total"] == 3 and "entry" not in counted
    lenient = await _search(stack, f"/{PRACTICE}/Appointment", {"colour": "blue"})
    assert lenient["total"] == 3 and "colour" not in lenient["link"][0]["url"]
    strict = await stack.client.get(f"/{PRACTICE}/Appointment", params={"colour": "blue"},
                                    headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["colour"]
    bad = await stack.client.get(f"/{PRACTICE}/Appointment", params={"date": "soon"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["date"]


async def test_every_appointment_fullurl_reads_back(stack):
    await book_many(stack, 3)
    await _reads_back(stack, await _search(stack, f"/{PRACTICE}/Appointment"))


# --- Patient and Organization ----------------------------------------------------------------------------

async def test_patient_search_by_nhs_number_and_id_and_every_fullurl_reads_back(stack):
    mine, theirs = stack.patient_at(PRACTICE, 2), stack.patient_at(OTHER_PRACTICE)
    for params, expected in (({"identifier": f"{NHS_NUMBER_SYSTEM}|{mine}"}, [mine]), ({"identifier": mine}, [mine]),
                             ({"identifier": f"urn:other|{mine}"}, []), ({"_id": f"{mine},{theirs}"}, [mine]),
                             ({"identifier": f"{NHS_NUMBER_SYSTEM}|{theirs}"}, [])):
        assert _ids(await _search(stack, f"/{PRACTICE}/Patient", params)) == expected, params
    await _reads_back(stack, await _search(stack, f"/{PRACTICE}/Patient", {"_count": 5}))
    read = await stack.client.get(f"/{PRACTICE}/Patient/{theirs}")
    assert read.status_code == 404 and read.json()["issue"][0]["expression"] == ["Patient.id"]


async def test_organization_search_by_ods_code_dos_id_and_id_and_every_fullurl_reads_back(stack):
    ods = OTHER_PRACTICE
    for params in ({"identifier": f"{ODS_SYSTEM}|{ods}"}, {"identifier": f"{DOS_SYSTEM}|{dos_id('practice', ods)}"},
                   {"_id": ods}, {"identifier": ods}):
        assert _ids(await _search(stack, "/Organization", params)) == [ods], params
    assert (await _search(stack, "/Organization", {"identifier": f"urn:other|{ods}"}))["total"] == 0
    every = await _search(stack, "/Organization", {"_count": 1})
    assert every["total"] == len(PRACTICES) and len(every["entry"]) == 1
    await _reads_back(stack, await _search(stack, "/Organization"))
    missing = await stack.client.get("/Organization/Y99999")
    assert missing.status_code == 404 and missing.json()["issue"][0]["expression"] == ["Organization.id"]


# --- ServiceRequest --------------------------------------------------------------------------------------

async def test_referral_search_by_patient_identifier_status_and_id(stack):
    first, second = stack.patient_at(PRACTICE, 0), stack.patient_at(PRACTICE, 1)
    body = service_request(first)
    body["identifier"] = [{"system": "https://example.org/our-ref", "value": "A_1%"}]
    created = await stack.post(f"/{PRACTICE}/ServiceRequest", body)
    assert created.status_code == 201, created.text
    a = created.json()
    b, c = await stack.refer(nhs=first), await stack.refer(nhs=second)
    await stack.refer(nhs=stack.patient_at(OTHER_PRACTICE), ods=OTHER_PRACTICE)
    path = f"/{PRACTICE}/ServiceRequest"
    for params, expected in (({}, [a, b, c]), ({"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{first}"}, [a, b]),
                             ({"patient:identifier": second}, [c]),
                             ({"identifier": f"{REFERRAL_SYSTEM}|{b['id']}"}, [b]), ({"identifier": c["id"]}, [c]),
                             # The caller's own identifier, LIKE's wildcards in it taken literally.
                             ({"identifier": "https://example.org/our-ref|A_1%"}, [a]),
                             ({"identifier": "https://example.org/our-ref|A_1"}, []),
                             ({"identifier": "https://example.org/our-ref|AB1x"}, []),
                             ({"identifier": "https://example.org/our-ref|"}, [a]),
                             ({"identifier": f"urn:other|{b['id']}"}, []),
                             ({"identifier": f"{REFERRAL_SYSTEM}|", "_count": 2}, [a, b]),
                             ({"status": "active"}, [a, b, c]), ({"status": "revoked"}, []),
                             ({"_id": f"{c['id']},{a['id']}"}, [a, c])):
        found = await _search(stack, path, params)
        assert _ids(found) == [r["id"] for r in expected], params
    assert (await _search(stack, path, {"identifier": f"{REFERRAL_SYSTEM}|", "_count": 2}))["total"] == 3


async def test_referral_fullurls_read_back_with_what_the_trust_said(stack):
    sent, unsent = await stack.refer(), await stack.refer(nhs=stack.patient_at(PRACTICE, 1))
    async with stack.app.state.db.writing() as session:
        await session.execute(update(Referral).where(Referral.id == sent["id"]).values(referral_state="accepted"))
    body = await _search(stack, f"/{PRACTICE}/ServiceRequest")
    resources = {e["resource"]["id"]: e["resource"] for e in body["entry"]}
    assert resources[unsent["id"]] == unsent  # as created
    assert resources[sent["id"]]["extension"] == [{"url": REFERRAL_STATE_EXT, "valueCode": "accepted"}]
    assert {k: v for k, v in resources[sent["id"]].items() if k != "extension"} == sent
    await _reads_back(stack, body)


@pytest.mark.parametrize("path", ["/Organization", f"/{PRACTICE}/Patient", f"/{PRACTICE}/Appointment",
                                  f"/{PRACTICE}/ServiceRequest"])
async def test_every_gp_search_caps_count_and_keeps_its_next_link_one_length(stack, path):
    body = await _search(stack, path, {"_count": 10**6})
    assert ("_count", "1000" if path != "/Organization" else "100") in parse_qsl(urlsplit(body["link"][0]["url"]).query)
    if path.endswith("Patient"):
        lengths, url = set(), f"{path}?_count=3"
        for _ in range(4):
            page = await _search(stack, url)
            url = next(link["url"] for link in page["link"] if link["relation"] == "next").removeprefix(GP)
            lengths.add(len(url))
        assert len(lengths) == 1
