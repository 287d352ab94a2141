"""The Slot search as BaRS clients send it: the service by DoS id or header, includes, totals, and
`next` links that keep one length however deep the calendar is walked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlparse

import pytest
from fhir.resources.R4B.bundle import Bundle

from party_common.bars_headers import TARGET_IDENTIFIER, encode
from party_common.booking import service_dos
from party_common.identifiers import DOS_SYSTEM
from party_common.search.paging import page_token
from party_common.trusts.catalogue import build_catalogue
from trust_pas.settings import Settings

from tests.inprocess import client_for

from .helpers import (
    SERVICE,
    assert_full_urls_read_back,
    booking,
    entries,
    free_slots,
    make_app,
    next_link,
    post_message,
    ubrn,
)

DOS = service_dos(SERVICE)


def _slot_count(service: str = SERVICE) -> int:
    settings = Settings()
    catalogue = build_catalogue(None, settings.calendar_start, settings.horizon_days)
    return catalogue.trust("RT1").services[service].template.slot_count


async def _book(pas, slots: list[dict], first_ubrn: int) -> None:
    for i, slot in enumerate(slots):
        assert (await post_message(pas, booking(slot, ubrn_value=ubrn(first_ubrn + i)))).status_code == 200


async def test_the_bars_slot_query_with_its_includes(pas):
    slots = await free_slots(pas, count=3, start="ge2027-01-05T09:00:00Z")
    await _book(pas, slots[1:2], 1)
    params = [("status", "free,busy"), ("start", "ge2027-01-05T09:00:00+00:00"), ("start", "le2027-01-05T10:00:00+00:00"),
              ("Schedule.actor:HealthcareService", f"{DOS_SYSTEM}|{DOS}"),
              ("_include", "Slot:schedule"), ("_include", "Schedule:actor:HealthcareService")]
    r = await pas.get("/RT1/Slot", params=params)
    assert r.status_code == 200, r.text
    bundle = r.json()
    Bundle.model_validate(bundle)
    matches = entries(bundle)
    # 09:00 to 10:00 inclusive (`le` takes the whole 10:00:00 second): seven 10-minute slots.
    assert bundle["total"] == 7 and len(matches) == 7
    assert [s["status"] for s in matches[:3]] == ["free", "busy", "free"]
    assert [(r["resourceType"], r["id"]) for r in entries(bundle, "include")] == [
        ("Schedule", SERVICE), ("HealthcareService", SERVICE)]
    applied = parse_qsl(urlparse(bundle["link"][0]["url"]).query)
    assert ("Schedule.actor:HealthcareService", f"{DOS_SYSTEM}|{DOS}") in applied
    assert ("_include", "Schedule:actor:HealthcareService") in applied
    await assert_full_urls_read_back(pas, bundle)


async def test_iterated_includes_reach_the_trust_and_the_site(pas):
    params = [(SERVICE_PARAM, SERVICE), ("_count", 2), ("_include", "Slot:schedule"),
              ("_include:iterate", "Schedule:actor:HealthcareService"),
              ("_include:iterate", "HealthcareService:providedBy"), ("_include:iterate", "HealthcareService:location")]
    bundle = (await pas.get("/RT1/Slot", params=params)).json()
    assert [(r["resourceType"], r["id"]) for r in entries(bundle, "include")] == [
        ("Schedule", SERVICE), ("HealthcareService", SERVICE), ("Organization", "RT1"), ("Location", "RT101")]
    await assert_full_urls_read_back(pas, bundle)
    # An include the PAS cannot honour is left out, and out of the self link (strict: refused).
    r = await pas.get("/RT1/Slot", params={SERVICE_PARAM: SERVICE, "_include": "Schedule:actor:Practitioner"})
    assert entries(r.json(), "include") == []
    assert "Practitioner" not in r.json()["link"][0]["url"]
    strict = await pas.get("/RT1/Slot", params={SERVICE_PARAM: SERVICE, "_include": "Schedule:actor:Practitioner"},
                           headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["_include"]


SERVICE_PARAM = "Schedule.actor:HealthcareService"


@pytest.mark.parametrize("value", [SERVICE, f"HealthcareService/{SERVICE}", DOS, f"{DOS_SYSTEM}|{DOS}",
                                   f"http://fhir.nhs.uk/id/dos-service-id|{DOS}", f"|{SERVICE}"])
async def test_the_service_by_id_or_dos_id(pas, value):
    r = await pas.get("/RT1/Slot", params={SERVICE_PARAM: value, "_count": 1})
    assert r.status_code == 200, r.text
    assert r.json()["entry"][0]["resource"]["id"] == f"{SERVICE}-202701040830"


async def test_a_service_the_trust_does_not_have_is_an_empty_searchset_with_a_warning(pas):
    for params in ({SERVICE_PARAM: f"https://other.example/id|{DOS}"}, {SERVICE_PARAM: "2000099999"},
                   {"service": SERVICE, "schedule": "Schedule/rt1-rt101-dermatology"}):
        r = await pas.get("/RT1/Slot", params=params)
        assert r.status_code == 200, params
        bundle = r.json()
        assert bundle["total"] == 0 and [e["search"]["mode"] for e in bundle["entry"]] == ["outcome"]
        issue = bundle["entry"][0]["resource"]["issue"][0]
        assert issue["severity"] == "warning" and set(issue["expression"]) == set(params)


async def test_totals_count_the_window_whatever_the_page(pas):
    day = await free_slots(pas, count=100, start="2027-01-04")
    assert len(day) == 48
    await _book(pas, day[:3], 10)

    async def total(**params) -> dict:
        r = await pas.get("/RT1/Slot", params={"service": SERVICE, "_count": 2, **params})
        assert r.status_code == 200, r.text
        return r.json()

    assert (await total(start="2027-01-04", status="free"))["total"] == 45
    assert (await total(start="2027-01-04", status="busy"))["total"] == 3
    assert (await total(start="2027-01-04"))["total"] == 48
    assert (await total(start="2027-01-04", status="busy-tentative"))["total"] == 0
    assert (await total(status="free"))["total"] == _slot_count() - 3
    assert (await total(start="2027-01-09"))["total"] == 0  # a Saturday
    # `_count=0` (fhirpy's count()) and `_summary=count` answer the total alone.
    for params in ({"_count": 0}, {"_summary": "count"}):
        only = (await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "free", **params})).json()
        assert only["total"] == _slot_count() - 3 and "entry" not in only and next_link(only) is None


async def test_next_links_keep_one_length_and_walk_every_slot_once(pas):
    day = await free_slots(pas, count=100, start="2027-01-04")
    await _book(pas, [day[0], day[7]], 20)
    url = f"/RT1/Slot?service={SERVICE}&status=free&start=2027-01-04&_count=1"
    seen, lengths = [], set()
    while url:
        page = (await pas.get(url)).json()
        assert page["total"] == 46
        seen += [s["id"] for s in entries(page)]
        url = next_link(page)
        if url:
            lengths.add(len(url))
    assert seen == [s["id"] for i, s in enumerate(day) if i not in (0, 7)]
    # Deep in the calendar the link is as long as on the first day.
    deep = (await pas.get(f"/RT1/Slot?service={SERVICE}&status=free&start=2027-06-30&_count=1")).json()
    deeper = (await pas.get(next_link(deep))).json()
    assert len(lengths) == 1 and {len(next_link(deep)), len(next_link(deeper))} == lengths


async def test_the_last_page_has_no_next_link(pas):
    page = (await pas.get("/RT1/Slot", params={"service": SERVICE, "start": "2027-01-04", "_count": 48})).json()
    assert len(page["entry"]) == 48 and next_link(page) is None
    page = (await pas.get("/RT1/Slot", params={"service": SERVICE, "start": "2027-01-04", "_count": 47})).json()
    last = (await pas.get(next_link(page))).json()
    assert [s["start"] for s in entries(last)] == ["2027-01-04T17:20:00Z"] and next_link(last) is None


async def test_a_page_token_not_given_out_is_400(pas):
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "_page": "x" * 12})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["_page"]


async def test_without_a_service_parameter_the_target_identifier_header_names_it(pas):
    header = {TARGET_IDENTIFIER: encode({"system": DOS_SYSTEM, "value": DOS})}
    r = await pas.get("/RT1/Slot", params={"status": "free", "_count": 2}, headers=header)
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert [s["schedule"]["reference"] for s in entries(bundle)] == [f"Schedule/{SERVICE}"] * 2
    # The links name the service, so they work without the header.
    assert (SERVICE_PARAM, f"{DOS_SYSTEM}|{DOS}") in parse_qsl(urlparse(bundle["link"][0]["url"]).query)
    after = (await pas.get(next_link(bundle))).json()
    assert entries(after)[0]["start"] > entries(bundle)[-1]["start"]
    # A parameter wins over the header.
    r = await pas.get("/RT1/Slot", params={"service": "rt1-rt101-ent", "_count": 1}, headers=header)
    assert entries(r.json())[0]["schedule"]["reference"] == "Schedule/rt1-rt101-ent"
    other = {TARGET_IDENTIFIER: encode({"system": DOS_SYSTEM, "value": "2000099999"})}
    r = await pas.get("/RT1/Slot", headers=other)
    assert r.status_code == 200 and r.json()["total"] == 0
    assert r.json()["entry"][0]["resource"]["issue"][0]["expression"] == [TARGET_IDENTIFIER]
    r = await pas.get("/RT1/Slot", headers={TARGET_IDENTIFIER: "not base64!"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == [TARGET_IDENTIFIER]


async def test_slots_by_id(pas):
    slots = await free_slots(pas, count=3)
    await _book(pas, slots[:1], 30)
    ids = f"{slots[2]['id']},{slots[0]['id']},nonsense,rt2-rt201-cardiology-202701040800,{SERVICE}-202701040835"
    bundle = (await pas.get("/RT1/Slot", params={"_id": ids})).json()
    assert bundle["total"] == 2
    assert [(s["id"], s["status"]) for s in entries(bundle)] == [(slots[0]["id"], "busy"), (slots[2]["id"], "free")]
    assert [s["id"] for s in entries((await pas.get("/RT1/Slot", params={"_id": ids, "status": "free"})).json())] \
        == [slots[2]["id"]]
    assert (await pas.get("/RT1/Slot", params={"_id": ids, "service": "rt1-rt101-ent"})).json()["total"] == 0
    first = (await pas.get("/RT1/Slot", params={"_id": ids, "_count": 1})).json()
    second = (await pas.get(next_link(first))).json()
    assert [s["id"] for s in entries(second)] == [slots[2]["id"]] and next_link(second) is None
    many = ",".join(f"{SERVICE}-2027010408{i:02d}" for i in range(1001))
    r = await pas.get("/RT1/Slot", params={"_id": many})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["_id"]


async def test_unknown_parameters_are_ignored_unless_strict(pas):
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "colour": "blue", "_sort": "start", "_count": 1})
    assert r.status_code == 200
    assert [k for k, _ in parse_qsl(urlparse(r.json()["link"][0]["url"]).query)] == ["service", "_count"]
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "colour": "blue"}, headers={"Prefer": "handling=strict"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["colour"]
    r = await pas.get("/RT1/Slot", params={"service:missing": "true"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["service:missing"]


async def test_totals_stay_right_past_a_remembered_run_of_claims(db_url):
    """The claims are counted on the walk's first query, whichever it is (the run check or a window)."""
    async with client_for(make_app(db_url)) as pas:
        await _totals_past_a_run(pas)


async def _totals_past_a_run(pas) -> None:
    slots = await free_slots(pas, count=40)
    await _book(pas, slots, 40)
    for _ in range(2):  # the second search starts from the run this process now remembers
        page = (await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "free", "_count": 1})).json()
        assert page["total"] == _slot_count() - 40
        assert entries(page)[0]["start"] > slots[-1]["start"]
        deeper = (await pas.get(next_link(page))).json()
        assert deeper["total"] == page["total"]
    busy = (await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "busy", "_count": 5})).json()
    assert busy["total"] == 40
    window = (await pas.get("/RT1/Slot", params=[("service", SERVICE), ("status", "free"), ("_count", 1),
                                                 ("start", f"ge{slots[10]['start']}"), ("start", "lt2027-01-05")])
              ).json()
    assert window["total"] == 48 - 40
    beyond = (await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "free",
                                                 "_page": page_token(2**62)})).json()
    assert beyond["total"] == _slot_count() - 40 and "entry" not in beyond and next_link(beyond) is None
