"""The national booking index: `$process-message` in, `GET /Appointment` out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, insert, select

from party_common.booking import BROKER, SPINE, read_appointment, read_booking
from party_common.identifiers import UBRN_SYSTEM
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, read_message
from spine_mock.models import BookingIndexEntry, ProcessedMessage
from tests.inprocess import FHIR_HEADERS

from .conftest import booking_bundle, booking_facts, first_issue, nhs_param, parameters, post_allocate, ubrn_of


async def _send(http, bundle: dict):
    return await http.post("/$process-message", json=bundle, headers=FHIR_HEADERS)


async def _lookup(http, ubrn: str) -> list[dict]:
    r = await http.get("/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn}"})
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(bundle.get("entry", []))
    return [e["resource"] for e in bundle.get("entry", [])]


async def _count(db, model) -> int:
    async with db.session() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _allocated(spine, nhs: str) -> str:
    return ubrn_of(await post_allocate(spine.http, parameters(nhs_param(nhs))))


async def test_booking_request_is_indexed_as_booked(spine_any_db, population):
    nhs = population[0].nhs_number
    ubrn = await _allocated(spine_any_db, nhs)
    facts = booking_facts(ubrn, nhs, status="proposed")
    request = booking_bundle(BOOKING_REQUEST, facts)
    r = await _send(spine_any_db.http, request)
    assert r.status_code == 200
    reply = r.json()
    header = reply["entry"][0]["resource"]
    assert header["response"] == {"identifier": request["id"], "code": "ok"}
    answer = read_message(reply)
    # The spine answers in its own name, to the broker, at the endpoint the request came from.
    assert (answer.sender, answer.receiver) == (SPINE, BROKER)
    assert header["destination"][0]["endpoint"] == BROKER.endpoint
    said = read_booking(answer).facts
    assert (said.status, said.ubrn, said.slot_id) == ("booked", ubrn, facts.slot_id)

    [appt] = await _lookup(spine_any_db.http, ubrn)
    got = read_appointment(appt, require_ubrn=True)
    assert got.status == "booked"
    assert (got.ubrn, got.nhs_number, got.trust_ods, got.gp_ods) == (ubrn, nhs, "RT1", "Y90001")
    assert (got.service_id, got.slot_id, got.start, got.end) == (
        facts.service_id, facts.slot_id, facts.start, facts.end)
    assert (got.specialty, got.referral_id) == ("cardiology", "ref-1")


async def test_booking_cancel_marks_the_entry_cancelled(spine_any_db, population):
    nhs = population[1].nhs_number
    ubrn = await _allocated(spine_any_db, nhs)
    booked = await _send(spine_any_db.http, booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs)))
    assert booked.status_code == 200
    cancel = booking_bundle(BOOKING_CANCEL, booking_facts(ubrn, nhs, status="cancelled"))
    r = await _send(spine_any_db.http, cancel)
    assert r.status_code == 200
    assert read_booking(read_message(r.json())).facts.status == "cancelled"
    [appt] = await _lookup(spine_any_db.http, ubrn)
    assert appt["status"] == "cancelled"
    assert read_appointment(appt).slot_id == booking_facts(ubrn, nhs).slot_id


async def test_cancel_of_unknown_ubrn_is_422_and_records_nothing(spine_any_db, population):
    cancel = booking_bundle(BOOKING_CANCEL, booking_facts("123456789012", population[0].nhs_number))
    r = await _send(spine_any_db.http, cancel)
    assert r.status_code == 422
    issue = first_issue(r)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Bundle.entry[1].resource.identifier"]
    assert await _lookup(spine_any_db.http, "123456789012") == []


async def test_rebooking_updates_the_entry(spine, population):
    nhs = population[2].nhs_number
    ubrn = await _allocated(spine, nhs)
    await _send(spine.http, booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs)))
    await _send(spine.http, booking_bundle(BOOKING_CANCEL, booking_facts(ubrn, nhs)))
    moved = booking_facts(ubrn, nhs, slot_id="RT1-CARD-1-202701051000", start="2027-01-05T10:00:00+00:00",
                          end="2027-01-05T10:15:00+00:00")
    assert (await _send(spine.http, booking_bundle(BOOKING_REQUEST, moved))).status_code == 200
    [appt] = await _lookup(spine.http, ubrn)
    got = read_appointment(appt)
    assert (got.status, got.slot_id, got.start) == ("booked", moved.slot_id, moved.start)
    assert await _count(spine.db, BookingIndexEntry) == 1


async def test_duplicate_message_is_answered_identically_and_recorded_once(spine_any_db, population):
    nhs = population[3].nhs_number
    ubrn = await _allocated(spine_any_db, nhs)
    request = booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs))
    first = await _send(spine_any_db.http, request)
    async with spine_any_db.db.session() as session:
        stamped = (await session.get(BookingIndexEntry, ubrn)).updated_at
    again = await _send(spine_any_db.http, request)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    # Built again from the same facts under the same ids (a retry after a restart): still a repeat.
    rebuilt = booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs), bundle_id=request["id"],
                             header_id=request["entry"][0]["resource"]["id"])
    third = await _send(spine_any_db.http, rebuilt)
    assert (third.status_code, third.json()) == (first.status_code, first.json())
    assert await _count(spine_any_db.db, ProcessedMessage) == 1
    async with spine_any_db.db.session() as session:
        assert (await session.get(BookingIndexEntry, ubrn)).updated_at == stamped


async def test_same_message_id_under_a_new_bundle_id_is_a_repeat(spine, population):
    nhs = population[3].nhs_number
    ubrn = await _allocated(spine, nhs)
    request = booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs))
    first = await _send(spine.http, request)
    header_repeat = {**request, "id": "another-bundle-id"}
    again = await _send(spine.http, header_repeat)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert await _count(spine.db, ProcessedMessage) == 1


async def test_a_bundle_id_reused_for_another_booking_is_409_and_changes_nothing(spine, population):
    nhs = population[3].nhs_number
    ubrn = await _allocated(spine, nhs)
    request = booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs))
    assert (await _send(spine.http, request)).status_code == 200
    moved = booking_facts(ubrn, nhs, slot_id="RT1-CARD-1-202701051000", start="2027-01-05T10:00:00+00:00",
                          end="2027-01-05T10:15:00+00:00")
    r = await _send(spine.http, booking_bundle(BOOKING_REQUEST, moved, bundle_id=request["id"]))
    assert r.status_code == 409
    issue = first_issue(r)
    assert (issue["code"], issue["expression"]) == ("duplicate", ["Bundle.id"])
    [appt] = await _lookup(spine.http, ubrn)
    assert read_appointment(appt).slot_id == booking_facts(ubrn, nhs).slot_id
    assert await _count(spine.db, ProcessedMessage) == 1


async def test_duplicate_refusal_is_answered_identically(spine, population):
    request = booking_bundle(BOOKING_CANCEL, booking_facts("123456789012", population[0].nhs_number))
    first = await _send(spine.http, request)
    # The booking appears afterwards; the repeated cancel must still get the original refusal.
    await _send(spine.http, booking_bundle(BOOKING_REQUEST, booking_facts("123456789012", population[0].nhs_number)))
    again = await _send(spine.http, request)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    [appt] = await _lookup(spine.http, "123456789012")
    assert appt["status"] == "booked"


async def test_concurrent_requests_for_one_ubrn_make_one_entry(spine_any_db, population):
    nhs = population[4].nhs_number
    ubrn = await _allocated(spine_any_db, nhs)
    responses = await asyncio.gather(*[
        _send(spine_any_db.http, booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs))) for _ in range(20)
    ])
    assert [r.status_code for r in responses] == [200] * 20
    assert await _count(spine_any_db.db, BookingIndexEntry) == 1
    assert await _count(spine_any_db.db, ProcessedMessage) == 20


async def test_index_is_paged_in_ubrn_order(spine_any_db, population):
    ubrns = []
    for i in range(7):
        nhs = population[i].nhs_number
        ubrn = await _allocated(spine_any_db, nhs)
        ubrns.append(ubrn)
        booked = await _send(spine_any_db.http, booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs)))
        assert booked.status_code == 200
    seen, url, pages = [], "/Appointment?_count=3", 0
    while url:
        r = await spine_any_db.http.get(url)
        assert r.status_code == 200
        bundle = r.json()
        assert bundle["total"] == 7
        assert len(bundle["entry"]) <= 3
        seen += [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    assert pages == 3
    assert seen == sorted(ubrns)


async def test_paging_defaults_and_offsets(spine):
    await _seed_index(spine.db, 150)
    r = await spine.http.get("/Appointment")
    bundle = r.json()
    assert (bundle["total"], len(bundle["entry"])) == (150, 100)
    nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert set(parse_qs(urlsplit(nxt).query)) == {"_count", "_page"}
    rest = (await spine.http.get(nxt)).json()
    assert [e["resource"]["id"] for e in rest["entry"]] == [f"{i:012d}" for i in range(100, 150)]
    r = await spine.http.get("/Appointment", params={"_count": 10, "_offset": 145})
    bundle = r.json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [f"{i:012d}" for i in range(145, 150)]
    assert not [link for link in bundle["link"] if link["relation"] == "next"]


async def test_count_is_capped_at_1000(spine):
    await _seed_index(spine.db, 1001)
    bundle = (await spine.http.get("/Appointment", params={"_count": 5000})).json()
    assert (bundle["total"], len(bundle["entry"])) == (1001, 1000)


async def test_bad_paging_parameters_are_400_naming_them(spine):
    for name, value in (("_count", "many"), ("_count", "-1"), ("_offset", "-5")):
        r = await spine.http.get("/Appointment", params={name: value})
        assert r.status_code == 400, (name, value)
        assert first_issue(r)["expression"] == [name]


async def test_lookup_with_another_system_finds_nothing(spine):
    await _seed_index(spine.db, 3)
    r = await spine.http.get("/Appointment", params={"identifier": "https://example.org/x|000000000001"})
    assert r.status_code == 200 and r.json()["total"] == 0


async def test_read_by_ubrn(spine, population):
    nhs = population[0].nhs_number
    ubrn = await _allocated(spine, nhs)
    await _send(spine.http, booking_bundle(BOOKING_REQUEST, booking_facts(ubrn, nhs)))
    r = await spine.http.get(f"/Appointment/{ubrn}")
    assert r.status_code == 200
    assert r.json()["id"] == ubrn
    r = await spine.http.get("/Appointment/000000000000")
    assert r.status_code == 404
    assert first_issue(r)["code"] == "not-found"


async def test_message_without_ubrn_is_422_on_identifier(spine, population):
    r = await _send(spine.http, booking_bundle(BOOKING_REQUEST, booking_facts(None, population[0].nhs_number)))
    assert r.status_code == 422
    assert first_issue(r)["expression"] == ["Bundle.entry[1].resource.identifier"]
    assert await _count(spine.db, BookingIndexEntry) == 0


async def test_malformed_ubrn_is_422_on_identifier(spine, population):
    r = await _send(spine.http, booking_bundle(BOOKING_REQUEST, booking_facts("U-1", population[0].nhs_number)))
    assert r.status_code == 422
    assert first_issue(r)["expression"] == ["Bundle.entry[1].resource.identifier"]


async def test_unhandled_event_is_422(spine, population):
    update = booking_bundle("booking-update", booking_facts("123456789012", population[0].nhs_number))
    r = await _send(spine.http, update)
    assert r.status_code == 422
    assert first_issue(r)["expression"] == ["Bundle.entry[0].resource.eventCoding.code"]


async def test_invalid_message_bundle_is_400_with_expression(spine, population):
    good = booking_bundle(BOOKING_REQUEST, booking_facts("123456789012", population[0].nhs_number))
    not_a_message = {**good, "type": "collection"}
    header_missing = {**good, "entry": good["entry"][1:]}
    r4_invalid = {**good, "entry": [good["entry"][0], {"resource": {"resourceType": "Appointment",
                                                                     "status": "no-such-status", "participant": 3}}]}
    for bundle, where in ((not_a_message, "Bundle.type"), (header_missing, "Bundle.entry[0].resource"),
                          (r4_invalid, "Bundle.entry[1]")):
        r = await _send(spine.http, bundle)
        assert r.status_code == 400, where
        expressions = [e for issue in r.json()["issue"] for e in issue.get("expression", [])]
        assert any(e.startswith(where) for e in expressions), (where, expressions)
    assert await _count(spine.db, BookingIndexEntry) == 0


async def test_process_message_content_type_json_and_method(spine, population):
    body = booking_bundle(BOOKING_REQUEST, booking_facts("123456789012", population[0].nhs_number))
    r = await spine.http.post("/$process-message", json=body, headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    r = await spine.http.post("/$process-message", content=b"{not json", headers=FHIR_HEADERS)
    assert r.status_code == 400
    assert first_issue(r)["code"] == "structure"
    r = await spine.http.get("/$process-message")
    assert r.status_code == 405
    assert await _count(spine.db, BookingIndexEntry) == 0


async def _seed_index(db, n: int) -> None:
    now = datetime.now(timezone.utc)
    rows = [{"ubrn": f"{i:012d}", "nhs_number": "9990000018", "service_id": "S", "slot_id": f"S-{i}",
             "status": "booked", "updated_at": now} for i in range(n)]
    async with db.engine.begin() as conn:
        await conn.execute(insert(BookingIndexEntry), rows)
