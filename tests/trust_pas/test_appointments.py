"""A trust's appointments: by patient, UBRN, status, date or id, paged, one by id; each trust sees only its own."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlparse

from fhir.resources.R4B.bundle import Bundle

from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM

from tests.inprocess import client_for

from .helpers import (
    assert_full_urls_read_back,
    booking,
    focus,
    free_slots,
    make_app,
    next_link,
    patient,
    post_message,
    ubrn,
)


async def book_many(pas, n: int) -> list[dict]:
    booked = []
    for i, slot in enumerate(await free_slots(pas, count=n)):
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(1000 + i)))
        assert r.status_code == 200
        booked.append(focus(r.json()))
    return booked


async def test_paging_is_ordered_with_total_and_next(pas):
    booked = await book_many(pas, 7)
    r = await pas.get("/RT1/Appointment", params={"_count": 3})
    page = r.json()
    Bundle.model_validate(page)
    assert page["total"] == 7
    assert [e["resource"]["id"] for e in page["entry"]] == [a["id"] for a in booked[:3]]
    seen = []
    url = "/RT1/Appointment?_count=3"
    while url:
        body = (await pas.get(url)).json()
        seen += [e["resource"]["id"] for e in body["entry"]]
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://party.test", "") if nxt else None
    assert seen == [a["id"] for a in booked]
    last = (await pas.get("/RT1/Appointment", params={"_count": 3, "_offset": 6})).json()
    assert len(last["entry"]) == 1 and not [x for x in last["link"] if x["relation"] == "next"]


async def test_default_and_maximum_page_sizes(pas):
    await book_many(pas, 2)
    r = await pas.get("/RT1/Appointment")
    assert parse_qs(urlparse(r.json()["link"][0]["url"]).query)["_count"] == ["100"]
    r = await pas.get("/RT1/Appointment", params={"_count": 5000})
    assert parse_qs(urlparse(r.json()["link"][0]["url"]).query)["_count"] == ["1000"]


async def test_search_by_ubrn(pas):
    booked = await book_many(pas, 3)
    r = await pas.get("/RT1/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn(1001)}"})
    assert [e["resource"] for e in r.json()["entry"]] == [booked[1]]
    r = await pas.get("/RT1/Appointment", params={"identifier": ubrn(1002)})
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [booked[2]["id"]]
    r = await pas.get("/RT1/Appointment", params={"identifier": f"http://other.example|{ubrn(1002)}"})
    assert r.json()["total"] == 0
    r = await pas.get("/RT1/Appointment", params={"identifier": f"{UBRN_SYSTEM}|000000000000"})
    assert r.json()["total"] == 0 and "entry" not in r.json()


async def test_status_filter(pas):
    booked = await book_many(pas, 2)
    slot = (await pas.get(f"/RT1/Slot/{booked[0]['slot'][0]['reference'][5:]}")).json()
    await post_message(pas, booking(slot, ubrn_value=ubrn(1000), event="booking-cancel"))
    r = await pas.get("/RT1/Appointment", params={"status": "cancelled"})
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [booked[0]["id"]]
    r = await pas.get("/RT1/Appointment", params={"status": "booked,cancelled"})
    assert r.json()["total"] == 2


async def test_read_and_trust_isolation(pas):
    booked = (await book_many(pas, 1))[0]
    assert (await pas.get(f"/RT1/Appointment/{booked['id']}")).json() == booked
    assert (await pas.get(f"/RT2/Appointment/{booked['id']}")).status_code == 404
    assert (await pas.get("/RT2/Appointment")).json()["total"] == 0
    r = await pas.get("/RT1/Appointment/not-an-id")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"
    assert (await pas.get("/RT1/Appointment/" + "x" * 200)).status_code == 404


async def test_bad_paging_parameters_are_400(pas):
    for params, name in (({"_count": "x"}, "_count"), ({"_offset": "-3"}, "_offset"),
                         ({"_offset": "1.5"}, "_offset"), ({"status": ","}, "status")):
        r = await pas.get("/RT1/Appointment", params=params)
        assert r.status_code == 400, params
        assert r.json()["issue"][0]["expression"] == [name]


async def _book_for(pas, patients: list[str]) -> list[dict]:
    booked = []
    for i, (slot, nhs) in enumerate(zip(await free_slots(pas, count=len(patients)), patients, strict=True)):
        r = await post_message(pas, booking(slot, ubrn_value=ubrn(2000 + i), nhs=nhs))
        assert r.status_code == 200
        booked.append(focus(r.json()))
    return booked


async def test_a_patients_appointments_and_no_one_elses(db_url):
    async with client_for(make_app(db_url)) as pas:
        await _only_that_patients(pas)


async def _only_that_patients(pas) -> None:
    one, two = patient(1), patient(40)
    booked = await _book_for(pas, [one, two, one, two, two])
    for value in (f"{NHS_NUMBER_SYSTEM}|{one}", one, f"http://fhir.nhs.uk/id/nhs-number|{one}"):
        body = (await pas.get("/RT1/Appointment", params={"patient:identifier": value})).json()
        assert body["total"] == 2, value
        assert [e["resource"]["id"] for e in body["entry"]] == [booked[0]["id"], booked[2]["id"]]
    body = (await pas.get("/RT1/Appointment", params={"patient:identifier": f"{one},{two}", "_count": 2})).json()
    assert body["total"] == 5 and len(body["entry"]) == 2
    for value in (f"{UBRN_SYSTEM}|{one}", f"|{one}", "9990000000"):
        assert (await pas.get("/RT1/Appointment", params={"patient:identifier": value})).json()["total"] == 0, value
    # Repeats are AND-ed: one patient and the other is no one.
    r = await pas.get("/RT1/Appointment", params=[("patient:identifier", one), ("patient:identifier", two)])
    assert r.json()["total"] == 0
    r = await pas.get("/RT1/Appointment", params={"patient": f"Patient/{one}"}, headers={"Prefer": "handling=strict"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["patient"]


async def test_date_id_sort_and_includes(db_url):
    async with client_for(make_app(db_url)) as pas:
        await _date_id_sort_and_includes(pas)


async def _date_id_sort_and_includes(pas) -> None:
    booked = await _book_for(pas, [patient(1)] * 4)
    starts = [a["start"] for a in booked]
    body = (await pas.get("/RT1/Appointment", params=[("date", f"ge{starts[1]}"), ("date", f"lt{starts[3]}")])).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [booked[1]["id"], booked[2]["id"]]
    assert (await pas.get("/RT1/Appointment", params={"date": starts[0][:10]})).json()["total"] == 4
    assert (await pas.get("/RT1/Appointment", params={"date": "lt2027-01-01"})).json()["total"] == 0
    body = (await pas.get("/RT1/Appointment", params={"_id": f"{booked[3]['id']},{booked[0]['id']},nope"})).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [booked[0]["id"], booked[3]["id"]]
    body = (await pas.get("/RT1/Appointment", params={"_sort": "-date"})).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [a["id"] for a in reversed(booked)]
    assert ("_sort", "-date") in parse_qsl(urlparse(body["link"][0]["url"]).query)
    body = (await pas.get("/RT1/Appointment", params=[("_id", booked[0]["id"]), ("_include", "Appointment:slot"),
                                                      ("_include:iterate", "Slot:schedule")])).json()
    assert [(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]] == [
        ("Appointment", "match"), ("Slot", "include"), ("Schedule", "include")]
    assert body["entry"][1]["resource"]["status"] == "busy"
    await assert_full_urls_read_back(pas, body)


async def test_count_zero_is_the_total_alone_and_next_links_keep_their_length(pas):
    await book_many(pas, 5)
    body = (await pas.get("/RT1/Appointment", params={"_count": 0})).json()
    assert body["total"] == 5 and "entry" not in body
    lengths, url, pages = set(), "/RT1/Appointment?_count=1", 0
    while url:
        page = (await pas.get(url)).json()
        pages += 1
        url = next_link(page)
        if url:
            lengths.add(len(url))
    assert pages == 5 and len(lengths) == 1
