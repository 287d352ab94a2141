"""The broker's Slot search over trusts whose slots the test chose (fake PASes, tests/booking_broker/
fake_trusts.py): slots of several trusts merged earliest first, every page found by its `next` link,
`total` right on every page, with and without trusts that count; the ways a search names its
service; includes; and every fullUrl read back at the broker."""

from __future__ import annotations

import math
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from booking_broker.app import create_app as broker_app
from booking_broker.settings import Settings as BrokerSettings
from booking_broker import slot_search
from booking_broker.slot_search import Position
from party_common import bars_headers
from party_common.http_client import RoutingTransport
from party_common.identifiers import DOS_SYSTEM, dos_id
from party_common.search.paging import page_token
from tests.booking_broker.fake_trusts import ORIGIN, FakeTrusts, at
from tests.inprocess import running

BROKER = "http://broker.test"


@asynccontextmanager
async def broker_over(tmp_path, trusts: FakeTrusts):
    """A broker whose trusts are the fake ones; its client sends no trace headers, as a FHIR client."""
    routes = RoutingTransport({ORIGIN: httpx.ASGITransport(app=trusts.app())})
    app = broker_app(BrokerSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/broker.db", public_url=BROKER,
                                    pas_endpoints=trusts.endpoints(), log_level="WARNING"), routes)
    routes.mount(BROKER, httpx.ASGITransport(app=app))
    async with running(app):
        async with httpx.AsyncClient(transport=routes, base_url=BROKER) as client:
            yield client


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def _self_query(bundle: dict) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(bundle["link"][0]["url"]).query)


def _of(bundle: dict, kind: str = "Slot") -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


async def _walk(client, params) -> tuple[list[str], set[int], set[int], int]:
    """(slot ids, totals seen, next link lengths, pages) of a whole search followed by its next links."""
    body = (await client.get("/Slot", params=params)).json()
    ids, totals, lengths, pages = [], set(), set(), 0
    while True:
        pages += 1
        assert pages <= 100, "the next links do not come to an end"
        ids += [s["id"] for s in _of(body)]
        totals.add(body["total"])
        url = _next(body)
        if url is None:
            return ids, totals, lengths, pages
        lengths.add(len(url))
        body = (await client.get(url)).json()


@pytest.mark.parametrize("counts", [True, False], ids=["trusts-count", "trusts-do-not-count"])
@pytest.mark.parametrize("page", [1, 2, 3, 7])
async def test_a_specialty_search_gives_every_trusts_free_slots_once_in_time_order(tmp_path, counts, page):
    trusts = FakeTrusts(counts=counts)
    expected = [s["id"] for s in trusts.free_slots("cardiology")]
    async with broker_over(tmp_path, trusts) as client:
        ids, totals, lengths, pages = await _walk(client, {"specialty": "cardiology", "_count": page})
    # Slots that start together at two trusts fall on both sides of page boundaries at these sizes.
    assert ids == expected
    assert totals == {len(expected)}
    assert pages == math.ceil(len(expected) / page)
    assert len(lengths) <= 1  # the next link does not grow page by page


async def test_a_window_and_statuses_narrow_the_merge(tmp_path):
    trusts = FakeTrusts()
    async with broker_over(tmp_path, trusts) as client:
        ids, totals, _, _ = await _walk(client, [("specialty", "cardiology"), ("start", f"ge{at(10)}"),
                                                 ("start", f"lt{at(30)}"), ("_count", "2")])
        wanted = [s["id"] for s in trusts.free_slots("cardiology") if at(10) <= s["start"] < at(30)]
        assert ids == wanted and totals == {len(wanted)} and len(wanted) == 5
        busy = (await client.get("/Slot", params={"specialty": "cardiology", "status": "busy"})).json()
        assert [(s["start"], s["status"]) for s in _of(busy)] == [(at(30), "busy")] and busy["total"] == 1
        both = (await client.get("/Slot", params={"service": "ra1-card", "status": "free,busy", "_count": 0})).json()
        assert both["total"] == 12 and "entry" not in both
        bad = await client.get("/Slot", params={"service": "ra1-card", "status": "open"})
        assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["status"]


async def test_without_status_the_search_is_for_free_slots_and_its_self_link_says_so(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        body = (await client.get("/Slot", params={"service": "ra1-card", "_count": 100})).json()
    assert body["total"] == 11 and ("status", "free") in _self_query(body)


async def test_count_is_capped_and_zero_answers_the_total_alone(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        big = (await client.get("/Slot", params={"specialty": "cardiology", "_count": 1000})).json()
        assert ("_count", "100") in _self_query(big) and len(_of(big)) == big["total"] == 25
        # fhirpy's count(): `_count=0&_totalMethod=count`.
        only = (await client.get("/Slot", params={"specialty": "cardiology", "_count": 0,
                                                  "_totalMethod": "count"})).json()
        assert only["total"] == 25 and "entry" not in only and _next(only) is None


async def test_a_trust_that_cannot_be_searched_is_left_out_with_a_warning(tmp_path):
    trusts = FakeTrusts()
    async with broker_over(tmp_path, trusts) as client:
        assert (await client.get("/Slot", params={"specialty": "cardiology"})).status_code == 200
        trusts.down.add("RA2")
        body = (await client.get("/Slot", params={"specialty": "cardiology", "_count": 100})).json()
    assert {s["id"][:3] for s in _of(body)} == {"ra1", "ra3"}
    assert body["total"] == len(_of(body))
    (outcome,) = [e["resource"] for e in body["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["severity"] == "warning" and "ra2-card" in outcome["issue"][0]["diagnostics"]


async def test_the_service_is_named_by_dos_id_id_reference_or_the_target_header(tmp_path):
    dos = dos_id("service", "ra2-card")
    target = bars_headers.encode({"system": DOS_SYSTEM, "value": dos})
    trusts = FakeTrusts()
    async with broker_over(tmp_path, trusts) as client:
        for params, headers in (({"Schedule.actor:HealthcareService": dos}, {}),
                                ({"Schedule.actor:HealthcareService": f"{DOS_SYSTEM}|{dos}"}, {}),
                                ({"Schedule.actor:HealthcareService": "HealthcareService/ra2-card"}, {}),
                                ({"service": "ra2-card"}, {}),
                                ({}, {bars_headers.TARGET_IDENTIFIER: target})):
            body = (await client.get("/Slot", params={**params, "_count": 100}, headers=headers)).json()
            assert {s["schedule"]["reference"] for s in _of(body)} == {"Schedule/ra2-card"}, params
            assert body["total"] == 8, params
        # The header's service goes into the links, so following them needs no header.
        named = (await client.get("/Slot", params={"_count": 3}, headers={bars_headers.TARGET_IDENTIFIER: target})).json()
        assert ("Schedule.actor:HealthcareService", f"{DOS_SYSTEM}|{dos}") in _self_query(named)
        assert (await client.get(_next(named))).json()["total"] == 8
        either = (await client.get("/Slot", params={"Schedule.actor:HealthcareService": "ra1-card,ra3-derm",
                                                    "_count": 0})).json()
        assert either["total"] == 11 + 3
        # AND-ed: a specialty the service has not finds nothing.
        none = (await client.get("/Slot", params={"service": "ra1-card", "specialty": "dermatology"})).json()
        assert none["total"] == 0
        unknown = (await client.get("/Slot", params={"service": "no-such-service"})).json()
        assert unknown["total"] == 0 and unknown["entry"][0]["resource"]["issue"][0]["severity"] == "warning"
        # A value that cannot be an id is not looked for again in every trust's directory.
        reads = trusts.directory_reads
        junk = (await client.get("/Slot", params={"Schedule.actor:HealthcareService": "no such/service"})).json()
        assert junk["total"] == 0 and trusts.directory_reads == reads
        # Named by nothing: every service's.
        unnamed = (await client.get("/Slot", params={"status": "free", "_count": 0})).json()
        assert unnamed["total"] == 25 + 3


async def test_descending_start_is_left_out_of_a_lenient_search_and_refused_by_a_strict_one(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        lenient = (await client.get("/Slot", params={"service": "ra1-card", "_sort": "-start"})).json()
        assert "_sort" not in dict(_self_query(lenient)) and _of(lenient)[0]["start"] == at(0)
        ascending = (await client.get("/Slot", params={"service": "ra1-card", "_sort": "start"})).json()
        assert ("_sort", "start") in _self_query(ascending)
        strict = await client.get("/Slot", params={"service": "ra1-card", "_sort": "-start"},
                                  headers={"Prefer": "handling=strict"})
        assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["_sort"]


async def test_includes_bring_schedules_and_services_and_every_full_url_reads_back(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        body = (await client.get("/Slot", params=[("specialty", "cardiology"), ("_count", "4"),
                                                  ("_include", "Slot:schedule"),
                                                  ("_include:iterate", "Schedule:actor:HealthcareService")])).json()
        modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]]
        assert modes[:4] == [("Slot", "match")] * 4
        schedules = {r["id"] for r in _of(body, "Schedule")}
        assert schedules == {s["schedule"]["reference"].split("/")[1] for s in _of(body)}
        assert {r["id"] for r in _of(body, "HealthcareService")} == schedules
        for entry in body["entry"]:
            assert entry["fullUrl"].startswith(f"{BROKER}/")
            read = await client.get(entry["fullUrl"])
            assert read.status_code == 200 and read.json() == entry["resource"], entry["fullUrl"]
        # The includes ride on the next link too.
        assert ("_include", "Slot:schedule") in parse_qsl(urlsplit(_next(body)).query)


async def test_a_search_by_id_reads_the_slots_at_their_trusts(tmp_path):
    trusts = FakeTrusts()
    wanted = [s["id"] for s in trusts.free_slots("cardiology")][:3]
    async with broker_over(tmp_path, trusts) as client:
        body = (await client.get("/Slot", params={"_id": ",".join([*reversed(wanted), "nothing-here"])})).json()
        assert [s["id"] for s in _of(body)] == wanted and body["total"] == 3
        narrowed = (await client.get("/Slot", params={"_id": ",".join(wanted), "service": "ra3-card"})).json()
        assert {s["schedule"]["reference"] for s in _of(narrowed)} == {"Schedule/ra3-card"}


async def test_reads_of_what_no_trust_holds_are_404s(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        for path in ("/Slot/nothing-here", "/Schedule/nothing-here", "/Slot/..", "/HealthcareService/nothing-here"):
            r = await client.get(path)
            assert r.status_code == 404, path
            assert r.json()["resourceType"] == "OperationOutcome"


async def test_a_read_at_a_trust_that_is_down_is_a_503_not_a_404(tmp_path):
    trusts = FakeTrusts()
    async with broker_over(tmp_path, trusts) as client:
        assert (await client.get("/Slot", params={"service": "ra1-card"})).status_code == 200
        trusts.down.add("RA2")
        r = await client.get("/Slot/nothing-here")
        assert r.status_code == 503 and r.json()["issue"][0]["code"] == "transient"


def test_a_page_position_round_trips_in_one_page_token():
    for position in (Position(1, 0, 0), Position(16_777_215, 2**27 - 1, 4095), Position(250, 29_000_000, 3)):
        packed = position.pack()
        assert Position.unpack(packed) == position
        assert len(page_token(packed)) == 12
    with pytest.raises(Exception) as err:
        Position(2**24, 29_000_000, 0).pack()
    assert getattr(err.value, "status", None) == 400


async def test_a_page_token_that_is_not_one_of_ours_is_a_400_naming_it(tmp_path):
    async with broker_over(tmp_path, FakeTrusts()) as client:
        for token in (page_token(Position(1, 29_000_000, 0).pack() | 5), page_token(5), "not-a-token"):
            r = await client.get("/Slot", params={"specialty": "cardiology", "_page": token})
            assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["_page"], token


async def test_a_trust_without_totals_too_long_to_walk_is_named_in_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(slot_search, "PAS_PAGE", 2)
    monkeypatch.setattr(slot_search, "MAX_PAS_PAGES", 2)
    async with broker_over(tmp_path, FakeTrusts(counts=False)) as client:
        body = (await client.get("/Slot", params={"service": "ra1-card", "_count": 1})).json()
    # Two pages were counted of its eleven free slots (the one asked for, then two more); the total
    # says no more than it knows, and the warning says so.
    assert body["total"] == 3
    (outcome,) = [e["resource"] for e in body["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["code"] == "too-costly" and "ra1-card" in outcome["issue"][0]["diagnostics"]
