"""The shared search layer on a small app of its own: parameters, paging, sorting, includes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI

from party_common.app_factory import create_party_app
from party_common.search import Include, Param, SearchQuery, SearchSpec, gather, offset_next, search_bundle
from party_common.search.dates import parse_instant
from party_common.search.paging import page_token, read_page_token

NHS = "https://fhir.nhs.uk/Id/nhs-number"
SPEC = SearchSpec(
    "Appointment",
    params=(Param("patient:identifier", "token", "The patient's NHS number."),
            Param("status", "token", "Appointment status."),
            Param("date", "date", "Appointment start.")),
    sorts=("date",),
    includes=(Include("Appointment", "slot", "slot", ("Slot",)), Include("Slot", "schedule", "schedule", ("Schedule",))),
    default_count=3, max_count=5,
)
APPOINTMENTS = [
    {"resourceType": "Appointment", "id": f"a{i}", "status": "booked" if i % 3 else "cancelled",
     "start": f"2026-12-{7 + i:02d}T09:00:00+00:00",
     "participant": [{"actor": {"identifier": {"system": NHS, "value": f"999000000{i % 2}"}}}],
     "slot": [{"reference": f"Slot/s{i}"}]}
    for i in range(12)
]
OTHERS = {("Slot", f"s{i}"): {"resourceType": "Slot", "id": f"s{i}", "schedule": {"reference": "Schedule/sch"}}
          for i in range(12)}
OTHERS[("Schedule", "sch")] = {"resourceType": "Schedule", "id": "sch"}


def _app() -> FastAPI:
    app = create_party_app("test", {"resourceType": "CapabilityStatement"})

    @app.get("/Appointment")
    async def search(q: Annotated[SearchQuery, Depends(SPEC.dependency)]):
        window = q.window("date")
        ids = q.ids()
        # The lambdas run inside token_match, while `a` is the one being judged.
        found = [a for a in APPOINTMENTS
                 if q.token_match("patient:identifier",
                                  lambda t: any(t.matches_identifier(p["actor"].get("identifier"))  # noqa: B023
                                                for p in a["participant"]))  # noqa: B023
                 and q.token_match("status", lambda t: t.matches(None, a["status"]) or t.code == a["status"])  # noqa: B023
                 and window.holds(parse_instant(a["start"])) and (ids is None or a["id"] in ids)]
        for _key, desc in reversed(q.sort):
            found.sort(key=lambda a: a["start"], reverse=desc)
        page = found[q.offset:q.offset + q.count]

        async def resolve(kind: str, rid: str):
            return OTHERS.get((kind, rid))

        included = await gather(page, q.includes, resolve)
        return search_bundle(q, page, total=len(found), base="http://t.test", path="Appointment",
                             next_position=offset_next(q, len(found)), included=included)

    return app


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t.test") as c:
        yield c


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


async def test_a_chained_identifier_finds_only_that_patients_appointments(client):
    body = (await client.get("/Appointment", params={"patient:identifier": f"{NHS}|9990000001", "_count": 100})).json()
    assert body["total"] == 6
    assert {e["resource"]["id"] for e in body["entry"]} == {f"a{i}" for i in range(1, 10, 2)}  # 5 a page


async def test_count_is_capped_and_paging_walks_every_match_by_next_links(client):
    body = (await client.get("/Appointment", params={"_count": 1000})).json()
    assert len(body["entry"]) == 5 and body["total"] == 12
    assert ("_count", "5") in _query(body["link"][0]["url"])
    seen, url, lengths = [], "/Appointment?_count=5", set()
    while url:
        page = (await client.get(url)).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        if nxt:
            lengths.add(len(nxt))
        url = nxt
    assert seen == [a["id"] for a in APPOINTMENTS]
    assert len(lengths) == 1  # a next link does not grow page by page


async def test_count_zero_and_summary_count_answer_the_total_alone(client):
    for params in ({"_count": 0}, {"_summary": "count"}):
        body = (await client.get("/Appointment", params={**params, "status": "booked"})).json()
        assert body["total"] == 8 and "entry" not in body
        assert not [link for link in body["link"] if link["relation"] == "next"]


async def test_unknown_parameters_are_ignored_and_left_out_of_self_unless_strict(client):
    lenient = await client.get("/Appointment", params={"colour": "blue", "status": "booked"})
    assert lenient.status_code == 200 and lenient.json()["total"] == 8
    assert [k for k, _ in _query(lenient.json()["link"][0]["url"])] == ["status", "_count"]
    strict = await client.get("/Appointment", params={"colour": "blue"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    issue = strict.json()["issue"][0]
    assert issue["code"] == "not-supported" and issue["expression"] == ["colour"]


async def test_an_unsupported_modifier_is_refused_even_when_lenient(client):
    r = await client.get("/Appointment", params={"status:not": "booked"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["status:not"]


@pytest.mark.parametrize("params, where", [
    ({"_count": "ten"}, "_count"), ({"_count": "-1"}, "_count"), ({"_offset": "99999999999999999999"}, "_offset"),
    ({"date": "tomorrow"}, "date"), ({"date": "xx2026-12-01"}, "date"), ({"_page": "nonsense"}, "_page"),
    ({"patient:identifier": "|"}, "patient:identifier"),
])
async def test_bad_values_are_400s_naming_the_parameter(client, params, where):
    r = await client.get("/Appointment", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert where in r.json()["issue"][0]["expression"]


async def test_every_problem_of_a_query_is_reported_at_once(client):
    r = await client.get("/Appointment", params={"_count": "x", "date": "never"})
    assert {e for i in r.json()["issue"] for e in i["expression"]} == {"_count", "date"}


async def test_dates_commas_and_ids(client):
    body = (await client.get("/Appointment?date=ge2026-12-10&date=lt2026-12-12&_count=5")).json()
    assert [e["resource"]["id"] for e in body["entry"]] == ["a3", "a4"]
    body = (await client.get("/Appointment", params={"_id": "a1,a2,zz", "status": "cancelled,booked"})).json()
    assert {e["resource"]["id"] for e in body["entry"]} == {"a1", "a2"}


async def test_sort_on_a_declared_key_and_unknown_keys_dropped_from_self(client):
    body = (await client.get("/Appointment", params={"_sort": "-date,colour"})).json()
    assert body["entry"][0]["resource"]["id"] == "a11"
    assert ("_sort", "-date") in _query(body["link"][0]["url"])


async def test_includes_follow_references_from_matches_and_from_included(client):
    body = (await client.get("/Appointment", params=[("_id", "a1,a2"), ("_include", "Appointment:slot"),
                                                     ("_include:iterate", "Slot:schedule:Schedule"),
                                                     ("_include", "Appointment:patient")])).json()
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]]
    assert modes == [("Appointment", "match")] * 2 + [("Slot", "include")] * 2 + [("Schedule", "include")]
    assert body["total"] == 2
    self_query = _query(body["link"][0]["url"])
    assert ("_include", "Appointment:slot") in self_query and ("_include", "Appointment:patient") not in self_query


def test_a_page_token_is_constant_size_and_round_trips():
    assert {len(page_token(n)) for n in (0, 1, 10**6, 2**63 - 1)} == {12}
    assert read_page_token(page_token(123456)) == 123456
