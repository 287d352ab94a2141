"""The practice's view of its bookings: paging, search by UBRN, the shared Appointment shape."""

from __future__ import annotations

from party_common.booking import REFERRAL_SYSTEM, read_appointment
from party_common.identifiers import UBRN_SYSTEM

from .conftest import GP, OTHER_PRACTICE, PRACTICE
from .fakes import booking_of, slot

SLOTS = ["svc-cardio-rt1-203001070900", "svc-cardio-rt1-203001070915", "svc-cardio-rt2-203001061400",
         "svc-cardio-rt1-203001080900", "svc-cardio-rt1-203001090900"]


# Free at the fake broker besides its default slots: a named slot must be free there to be booked.
EXTRA_SLOTS = [slot("svc-cardio-rt1", "2030-01-08T09:00:00Z", "2030-01-08T09:15:00Z", "cardiology"),
               slot("svc-cardio-rt1", "2030-01-09T09:00:00Z", "2030-01-09T09:15:00Z", "cardiology")]


async def book_many(stack, n: int) -> list[str]:
    stack.broker.slots += EXTRA_SLOTS
    assert set(SLOTS) <= {s["id"] for s in stack.broker.slots}
    ubrns = []
    for i in range(n):
        ref = await stack.refer(nhs=stack.patient_at(PRACTICE, i))
        resp = await stack.book(ref["id"], slot=SLOTS[i])
        assert resp.status_code == 200
        ubrns.append(booking_of(resp.json()).ubrn)
    return ubrns


async def test_listing_pages_in_booking_order(stack):
    ubrns = await book_many(stack, 5)
    seen, url = [], f"/{PRACTICE}/Appointment?_count=2"
    while url:
        resp = await stack.client.get(url)
        body = resp.json()
        assert body["total"] == 5
        seen += [e["resource"]["identifier"][0]["value"] for e in body["entry"]]
        nxt = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        url = nxt.removeprefix(GP) if nxt else None
    assert seen == ubrns


async def test_offset_and_count(stack):
    ubrns = await book_many(stack, 4)
    body = (await stack.client.get(f"/{PRACTICE}/Appointment", params={"_count": 2, "_offset": 1})).json()
    assert [e["resource"]["identifier"][0]["value"] for e in body["entry"]] == ubrns[1:3]
    assert body["entry"][0]["fullUrl"] == f"{GP}/{PRACTICE}/Appointment/{body['entry'][0]['resource']['id']}"


async def test_other_practices_bookings_are_not_listed(stack):
    await book_many(stack, 2)
    body = (await stack.client.get(f"/{OTHER_PRACTICE}/Appointment")).json()
    assert body["total"] == 0


async def test_search_by_ubrn(stack):
    ubrns = await book_many(stack, 3)
    for token in (f"{UBRN_SYSTEM}|{ubrns[1]}", ubrns[1]):
        body = (await stack.client.get(f"/{PRACTICE}/Appointment", params={"identifier": token})).json()
        assert [e["resource"]["identifier"][0]["value"] for e in body["entry"]] == [ubrns[1]]
    body = (await stack.client.get(f"/{PRACTICE}/Appointment",
                                   params={"identifier": f"{UBRN_SYSTEM}|999999999999"})).json()
    assert body["total"] == 0 and body.get("entry", []) == []


async def test_an_identifier_of_another_system_matches_nothing_and_a_bad_count_is_400(stack):
    await book_many(stack, 2)
    body = (await stack.client.get(f"/{PRACTICE}/Appointment", params={"identifier": "urn:other|123"})).json()
    assert body["total"] == 0 and "entry" not in body
    resp = await stack.client.get(f"/{PRACTICE}/Appointment", params={"_count": "x"})
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["_count"]


async def test_appointment_has_the_shared_booking_shape(stack):
    ref = await stack.refer()
    await stack.book(ref["id"], start="2030-01-01T00:00:00Z")
    [appt] = await stack.appointments()
    facts = read_appointment(appt, require_ubrn=True)
    assert facts.gp_ods == PRACTICE and facts.trust_ods == "RT1"
    assert facts.nhs_number == ref["subject"]["identifier"]["value"]
    assert (facts.service_id, facts.slot_id) == ("svc-cardio-rt2", "svc-cardio-rt2-203001061400")
    assert (facts.start, facts.end, facts.specialty) == ("2030-01-06T14:00:00Z", "2030-01-06T14:15:00Z", "cardiology")
    assert appt["basedOn"] == [{"type": "ServiceRequest",
                                "identifier": {"system": REFERRAL_SYSTEM, "value": ref["id"]}}]
    assert set(appt) == {"resourceType", "id", "extension", "identifier", "status", "serviceType", "start", "end",
                         "slot", "participant", "basedOn"}

    read = await stack.client.get(f"/{PRACTICE}/Appointment/{appt['id']}")
    assert read.status_code == 200 and read.json() == appt
    assert (await stack.client.get(f"/{OTHER_PRACTICE}/Appointment/{appt['id']}")).status_code == 404
