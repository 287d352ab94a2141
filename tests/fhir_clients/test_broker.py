"""The broker's searches and reads as fhirpy (sync and async) and SMART's fhirclient use them, over the
socket, with no BaRS trace headers (a FHIR client sends none)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment
from fhirclient.models.slot import Slot
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from party_common.booking import PERFORMER_EXT
from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM, dos_id

from .readback import FHIR, pages, read_back, total

pytestmark = [pytest.mark.sockets,
              pytest.mark.filterwarnings("ignore:perform_resources:DeprecationWarning")]

# Small pages, so every search here takes several and the clients must follow `next` links.
PAGE = 5
SERVICE_PARAM = "Schedule.actor:HealthcareService"


def _ubrn(appointment: dict) -> str | None:
    return next((i["value"] for i in appointment.get("identifier") or [] if i["system"] == UBRN_SYSTEM), None)


def _nhs(appointment: dict) -> str:
    return next(p["actor"]["identifier"]["value"] for p in appointment["participant"]
                if (p["actor"].get("identifier") or {}).get("system") == NHS_NUMBER_SYSTEM)


def _smart(base: str):
    return smart_client.FHIRClient(settings={"app_id": "testbed-tests", "api_base": base}).server


@pytest.fixture(scope="module")
def booked(stack) -> list[dict]:
    return [b for b in stack.bookings() if b["ubrn"]]


@pytest.fixture(scope="module")
def a_day(stack, booked) -> tuple[str, str, str, str]:
    """(service id, its trust, a day it has a booking on, the next day)."""
    first = booked[0]
    appointment = httpx.get(f"{stack.broker}/Appointment/{first['ubrn']}", headers=FHIR).json()
    day = date.fromisoformat(appointment["start"][:10])
    trust = next(e["valueIdentifier"]["value"] for e in appointment["extension"] if e["url"] == PERFORMER_EXT)
    return first["service"], trust, day.isoformat(), (day + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def patient(booked) -> tuple[str, set[str]]:
    """A patient with a booking, and the UBRNs of theirs; others have bookings too."""
    nhs = booked[0]["nhs_number"]
    assert any(b["nhs_number"] != nhs for b in booked)
    return nhs, {b["ubrn"] for b in booked if b["nhs_number"] == nhs}


def _day_at_the_pas(stack, service: str, trust: str, day: str, next_day: str) -> int:
    """What the trust itself counts of the service's slots that day, free and busy: the referee."""
    r = httpx.get(f"{stack.pas}/{trust}/Slot", headers=FHIR,
                  params=[("service", service), ("status", "free,busy"), ("start", f"ge{day}"),
                          ("start", f"lt{next_day}"), ("_count", "0")])
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_fhirpy_sync_fetch_all_gives_every_slot_of_a_day_and_count_agrees(stack, a_day):
    service, trust, day, next_day = a_day
    search = SyncFHIRClient(stack.broker).resources("Slot") \
        .search(**{SERVICE_PARAM: dos_id("service", service)}) \
        .search(status="free,busy", start=[f"ge{day}", f"lt{next_day}"]).limit(PAGE)
    counted = search.count()
    found = search.fetch_all()
    expected = _day_at_the_pas(stack, service, trust, day, next_day)
    # Every slot of the day, not the first page: many pages of PAGE.
    assert len(found) == counted == expected > 4 * PAGE
    starts = [s.serialize()["start"] for s in found]
    assert starts == sorted(starts) and len({s.id for s in found}) == len(found)
    assert {s.serialize()["status"] for s in found} == {"free", "busy"}  # the run booked some of them


async def test_fhirpy_async_fetch_all_across_trusts_and_reads_by_reference(stack, a_day):
    service, _trust, day, next_day = a_day
    specialty = service.rsplit("-", 1)[1]
    client = AsyncFHIRClient(stack.broker)
    search = client.resources("Slot").search(specialty=specialty, start=[f"ge{day}", f"lt{next_day}"]).limit(PAGE)
    counted = await search.count()
    found = await search.fetch_all()
    services = [s.id for s in await client.resources("HealthcareService").search(specialty=specialty).fetch_all()]
    assert len(services) > 1
    # The referee: each trust's own count of its free slots that day.
    expected = 0
    for sid in services:
        r = httpx.get(f"{stack.broker}/Slot", headers=FHIR, params=[("service", sid), ("start", f"ge{day}"),
                                                                    ("start", f"lt{next_day}"), ("_count", "0")])
        expected += r.json()["total"]
    assert len(found) == counted == expected > PAGE
    assert len({s.id for s in found}) == len(found)
    slot = found[-1]
    assert (await client.reference("Slot", slot.id).to_resource()).serialize() == slot.serialize()
    schedule = await client.reference(reference=slot.serialize()["schedule"]["reference"]).to_resource()
    assert schedule.serialize()["resourceType"] == "Schedule"


def test_fhirclient_walks_every_page_of_a_day_and_reads_a_slot(stack, a_day):
    service, trust, day, next_day = a_day
    server = _smart(stack.broker)
    # A date alone is the whole day (fhirclient writes ranges as `>=`, which R4 has not).
    slots = Slot.where(struct={SERVICE_PARAM: service, "status": "free,busy", "start": day,
                               "_count": str(PAGE)}).perform_resources(server)
    assert len(slots) == _day_at_the_pas(stack, service, trust, day, next_day) > 4 * PAGE
    assert Slot.read(slots[-1].id, server).as_json() == slots[-1].as_json()


def test_patient_identifier_returns_only_that_patients_bookings(stack, patient):
    nhs, ubrns = patient
    token = f"{NHS_NUMBER_SYSTEM}|{nhs}"
    by_fhirpy = SyncFHIRClient(stack.broker).resources("Appointment").search(**{"patient:identifier": token}) \
        .limit(1).fetch_all()
    by_smart = Appointment.where(struct={"patient:identifier": token, "_count": "1"}) \
        .perform_resources(_smart(stack.broker))
    for found in ([a.serialize() for a in by_fhirpy], [a.as_json() for a in by_smart]):
        assert {_nhs(a) for a in found} == {nhs}
        assert ubrns <= {_ubrn(a) for a in found}
    assert len(by_smart) == len(by_fhirpy) < total(f"{stack.broker}/Appointment")
    one = by_fhirpy[0]
    assert SyncFHIRClient(stack.broker).reference("Appointment", one.id).to_resource().serialize() == one.serialize()


async def test_includes_bring_the_schedules_services_and_trusts(stack, a_day):
    service, _trust, day, next_day = a_day
    bundle = await AsyncFHIRClient(stack.broker).resources("Slot") \
        .search(**{SERVICE_PARAM: service}, start=[f"ge{day}", f"lt{next_day}"]) \
        .include("Slot", "schedule").include("Schedule", "actor", "HealthcareService", iterate=True) \
        .include("HealthcareService", "providedBy").limit(PAGE).fetch_raw()
    included = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.entry
                if e["search"]["mode"] == "include"}
    assert included == {("Schedule", service), ("HealthcareService", service), ("Organization", service[:3].upper())}
    # fhirpy hands the entries back as its resources; read back as JSON.
    entries = [{"fullUrl": e["fullUrl"], "resource": e["resource"].serialize()} for e in bundle.entry]
    assert read_back([{"entry": entries}]) == PAGE + 3


def test_sort_and_a_capped_count(stack, booked):
    client = SyncFHIRClient(stack.broker)
    newest = client.resources("Appointment").sort("-_id").limit(PAGE).fetch()
    ids = [a.id for a in newest]
    assert ids == sorted({b["ubrn"] for b in booked} | set(ids), reverse=True)[:PAGE]
    by_date = [a.serialize()["start"] for a in client.resources("Appointment").sort("date").fetch_all()]
    assert by_date == sorted(by_date)
    named = [s.serialize()["name"] for s in client.resources("HealthcareService").sort("-name").fetch_all()]
    assert named == sorted(named, reverse=True)
    big = httpx.get(f"{stack.broker}/Slot", headers=FHIR, params={"specialty": "cardiology", "_count": 1000}).json()
    assert len(big["entry"]) == 100 < big["total"]
    assert "_count=100" in big["link"][0]["url"]


@pytest.mark.parametrize("kind, params", [
    ("Slot", [("specialty", "cardiology"), ("_count", str(PAGE)), ("_include", "Slot:schedule"),
              ("_include:iterate", "Schedule:actor:HealthcareService")]),
    ("HealthcareService", [("_count", str(PAGE)), ("_include", "HealthcareService:providedBy")]),
    ("Appointment", [("_count", str(PAGE))]),
])
def test_every_searchset_fullurl_reads_back(stack, kind, params):
    # A Slot search is thousands of pages: three show it.
    bundles = pages(f"{stack.broker}/{kind}", params, most=3 if kind == "Slot" else None)
    assert read_back(bundles) > PAGE


def test_a_two_thousand_page_walk_keeps_one_next_link_length(stack):
    """Across every cardiology service, one slot a page: slots that start together at several trusts
    fall on every side of a page boundary, and the link must neither grow nor repeat a slot."""
    bundles = pages(f"{stack.broker}/Slot", {"specialty": "cardiology", "_count": 1}, most=2000)
    ids = [e["resource"]["id"] for b in bundles for e in b["entry"]]
    starts = [e["resource"]["start"] for b in bundles for e in b["entry"]]
    assert len(bundles) == len(ids) == len(set(ids)) == 2000
    assert starts == sorted(starts)
    assert {b["total"] for b in bundles} == {bundles[0]["total"]} and bundles[0]["total"] > 2000
