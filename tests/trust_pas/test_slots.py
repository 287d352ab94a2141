"""Slot search and read: generated slots, busy once claimed, earliest first."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from fhir.resources.R4B.bundle import Bundle

from .helpers import SERVICE, booking, focus, free_slots, post_message, ubrn


async def test_first_slots_of_the_calendar(pas):
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "free"})
    assert r.status_code == 200
    bundle = r.json()
    Bundle.model_validate(bundle)
    slots = [e["resource"] for e in bundle["entry"]]
    assert len(slots) == 10  # default _count
    assert [s["start"] for s in slots[:3]] == ["2027-01-04T08:30:00Z", "2027-01-04T08:40:00Z",
                                               "2027-01-04T08:50:00Z"]
    first = slots[0]
    assert first["id"] == f"{SERVICE}-202701040830"
    assert first["end"] == "2027-01-04T08:40:00Z"
    assert first["status"] == "free"
    assert first["schedule"]["reference"] == f"Schedule/{SERVICE}"
    assert [s["start"] for s in slots] == sorted(s["start"] for s in slots)


async def test_start_filter_count_and_session_gaps(pas):
    slots = await free_slots(pas, count=5, start="ge2027-01-05T12:05:00Z")
    # The morning session ends 12:30; the afternoon one starts 13:30.
    assert [s["start"] for s in slots] == ["2027-01-05T12:10:00Z", "2027-01-05T12:20:00Z",
                                           "2027-01-05T13:30:00Z", "2027-01-05T13:40:00Z",
                                           "2027-01-05T13:50:00Z"]
    slots = await free_slots(pas, count=3, start="gt2027-01-05T12:10:00Z")
    assert slots[0]["start"] == "2027-01-05T12:20:00Z"


async def test_friday_evening_moves_to_monday(pas):
    slots = await free_slots(pas, count=1, start="ge2027-01-08T17:25:00Z")
    assert slots[0]["start"] == "2027-01-11T08:30:00Z"


async def test_start_upper_bounds_and_eq(pas):
    slots = await free_slots(pas, count=100, start=["ge2027-01-04T16:00:00Z", "lt2027-01-04T17:00:00Z"])
    assert [s["start"][11:16] for s in slots] == ["16:00", "16:10", "16:20", "16:30", "16:40", "16:50"]
    slots = await free_slots(pas, count=100, start=["ge2027-01-04T17:00:00Z", "le2027-01-04T17:20:00Z"])
    assert [s["start"][11:16] for s in slots] == ["17:00", "17:10", "17:20"]
    slots = await free_slots(pas, count=100, start="2027-01-09")  # a Saturday: RT1 has no clinics
    assert slots == []
    slots = await free_slots(pas, count=100, start="2027-01-04")
    assert len(slots) == 48


async def test_zone_offsets_in_start(pas):
    slots = await free_slots(pas, count=1, start="ge2027-01-05T10:05:00+01:00")
    assert slots[0]["start"] == "2027-01-05T09:10:00Z"


async def test_before_and_after_the_horizon(pas):
    slots = await free_slots(pas, count=1, start="ge2020-01-01")
    assert slots[0]["start"] == "2027-01-04T08:30:00Z"
    assert await free_slots(pas, count=5, start="ge2028-01-01") == []
    last = await free_slots(pas, count=100, start="ge2027-07-02T16:00:00Z")
    assert last[-1]["start"] == "2027-07-02T17:20:00Z"


async def test_count_is_capped_at_100(pas):
    slots = await free_slots(pas, count=500)
    assert len(slots) == 100


async def test_next_link_continues_after_the_last_slot(pas):
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "free", "_count": 4})
    bundle = r.json()
    nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    query = parse_qs(urlparse(nxt).query)
    # The page's position travels as a token in place of the last one, not as another `start`.
    assert "start" not in query and len(query["_page"]) == 1
    r2 = await pas.get(nxt)
    assert r2.json()["entry"][0]["resource"]["start"] == "2027-01-04T09:10:00Z"


async def test_schedule_param_is_accepted(pas):
    r = await pas.get("/RT1/Slot", params={"schedule": f"Schedule/{SERVICE}", "_count": 1})
    assert r.json()["entry"][0]["resource"]["id"] == f"{SERVICE}-202701040830"
    r = await pas.get("/RT1/Slot", params={"service": f"HealthcareService/{SERVICE}", "_count": 1})
    assert r.json()["entry"][0]["resource"]["id"] == f"{SERVICE}-202701040830"


async def test_busy_slots_are_skipped_and_listed_as_busy(pas):
    slots = await free_slots(pas, count=3)
    for i, slot in enumerate(slots[:2]):
        assert (await post_message(pas, booking(slot, ubrn_value=ubrn(i)))).status_code == 200
    free = await free_slots(pas, count=3)
    assert [s["id"] for s in free][0] == slots[2]["id"]
    assert all(s["status"] == "free" for s in free)
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "status": "busy", "_count": 5})
    busy = [e["resource"] for e in r.json()["entry"]]
    assert [(s["id"], s["status"]) for s in busy] == [(slots[0]["id"], "busy"), (slots[1]["id"], "busy")]
    r = await pas.get("/RT1/Slot", params={"service": SERVICE, "_count": 3})
    assert [e["resource"]["status"] for e in r.json()["entry"]] == ["busy", "busy", "free"]


async def test_long_run_of_busy_slots_then_cancel_reopens_the_earliest(pas):
    """Past a run of booked slots, and a slot freed inside the run shows up again at once."""
    slots = await free_slots(pas, count=80)
    bundles = []
    for i, slot in enumerate(slots):
        msg = booking(slot, ubrn_value=ubrn(100 + i))
        bundles.append(msg)
        assert (await post_message(pas, msg)).status_code == 200
    after = await free_slots(pas, count=2)
    assert after[0]["start"] > slots[-1]["start"]
    # Searches again past the run, now remembered, still from the real claims.
    assert (await free_slots(pas, count=2)) == after
    cancel = booking(slots[40], ubrn_value=ubrn(140), event="booking-cancel")
    assert (await post_message(pas, cancel)).status_code == 200
    assert (await free_slots(pas, count=1))[0]["id"] == slots[40]["id"]
    mid = await free_slots(pas, count=1, start=f"ge{slots[10]['start']}")
    assert mid[0]["id"] == slots[40]["id"]


async def test_read_slot_free_and_busy(pas):
    slot = (await free_slots(pas, count=1, start="ge2027-02-01"))[0]
    r = await pas.get(f"/RT1/Slot/{slot['id']}")
    assert r.status_code == 200 and r.json() == slot
    resp = await post_message(pas, booking(slot, ubrn_value=ubrn(7)))
    assert focus(resp.json())["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    r = await pas.get(f"/RT1/Slot/{slot['id']}")
    assert r.json()["status"] == "busy"


async def test_read_slot_malformed_or_unknown_is_404(pas):
    for slot_id in (f"{SERVICE}-202701040835",   # not on the 10-minute grid
                    f"{SERVICE}-202701090900",   # Saturday
                    f"{SERVICE}-202801040830",   # beyond the horizon
                    f"{SERVICE}-2027010408300",  # malformed stamp
                    "rt1-rt101-neurology-202701040830",
                    "rt2-rt201-cardiology-202701040800",  # another trust's slot
                    "nonsense"):
        r = await pas.get(f"/RT1/Slot/{slot_id}")
        assert r.status_code == 404, slot_id
        assert r.json()["resourceType"] == "OperationOutcome"
    assert (await pas.get("/RT2/Slot/rt2-rt201-cardiology-202701040800")).status_code == 200


async def test_unknown_service_gives_empty_searchset_with_warning(pas):
    r = await pas.get("/RT1/Slot", params={"service": "rt2-rt201-cardiology"})
    assert r.status_code == 200
    bundle = r.json()
    Bundle.model_validate(bundle)
    assert bundle["total"] == 0
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["outcome"]


async def test_bad_slot_search_parameters_are_400_naming_the_parameter(pas):
    cases = [
        ({}, "Schedule.actor:HealthcareService"),
        ({"service": SERVICE, "status": "open"}, "status"),
        ({"service": SERVICE, "_count": "ten"}, "_count"),
        ({"service": SERVICE, "_count": "-1"}, "_count"),
        ({"service": SERVICE, "start": "ge04/01/2027"}, "start"),
        ({"service": SERVICE, "start": "ne2027-01-04"}, "start"),
        ({"service": SERVICE, "start": "ge2027-02-30"}, "start"),
        ({"service": f"{SERVICE},rt1-rt101-dermatology"}, "service"),  # one service a search
    ]
    for params, name in cases:
        r = await pas.get("/RT1/Slot", params=params)
        assert r.status_code == 400, (params, r.text)
        issue = r.json()["issue"][0]
        assert issue["expression"] == [name], params


async def test_a_slot_freed_by_another_worker_is_found_despite_the_remembered_run(sqlite_url):
    """Two workers on one database: the run worker A remembers must not hide B's cancellation."""
    from tests.inprocess import client_for

    from .helpers import make_app

    app_a, app_b = make_app(sqlite_url), make_app(sqlite_url)
    async with client_for(app_a) as a, client_for(app_b) as b:
        slots = await free_slots(a, count=40)
        for i, slot in enumerate(slots):
            assert (await post_message(a, booking(slot, ubrn_value=ubrn(500 + i)))).status_code == 200
        assert (await free_slots(a, count=1))[0]["start"] > slots[-1]["start"]
        assert app_a.state.slot_finder._claimed_runs  # the run is remembered
        cancel = booking(slots[5], ubrn_value=ubrn(505), event="booking-cancel")
        assert (await post_message(b, cancel)).status_code == 200
        assert (await free_slots(a, count=1))[0]["id"] == slots[5]["id"]


async def test_total_none_leaves_out_the_total_and_counts_no_claims(pas):
    from contextlib import contextmanager

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    first = (await free_slots(pas, count=1))[0]
    assert (await post_message(pas, booking(first, ubrn_value=ubrn(1)))).status_code == 200

    @contextmanager
    def counts_run():
        seen: list[str] = []

        def spy(conn, cursor, statement, *args):
            if "count(" in statement.lower():
                seen.append(statement)
        event.listen(Engine, "before_cursor_execute", spy)
        try:
            yield seen
        finally:
            event.remove(Engine, "before_cursor_execute", spy)

    params = {"service": SERVICE, "status": "free", "_count": 2}
    with counts_run() as seen:
        counted = await pas.get("/RT1/Slot", params=params)
    assert counted.json()["total"] > 0 and seen, "the ordinary search counts the claims for its total"
    with counts_run() as seen:
        r = await pas.get("/RT1/Slot", params={**params, "_total": "none"})
    assert r.status_code == 200 and "total" not in r.json() and seen == []
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [e["resource"]["id"] for e in counted.json()["entry"]]
    nxt = next(link["url"] for link in r.json()["link"] if link["relation"] == "next")
    assert parse_qs(urlparse(nxt).query)["_total"] == ["none"]
    bad = await pas.get("/RT1/Slot", params={**params, "_total": "sometimes"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["_total"]
