"""The trust PAS as fhirpy (sync and async) and SMART's fhirclient see it, over real sockets.

Each trust's FHIR base is `{pas}/{ODS}`. What a client gets must be what the PAS holds: every page
followed to the end, totals that count, every fullUrl readable, a patient's bookings and no one else's.
"""

from __future__ import annotations

import collections
import json
import warnings

import pytest
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment as SmartAppointment
from fhirclient.models.healthcareservice import HealthcareService as SmartHealthcareService
from fhirclient.models.slot import Slot as SmartSlot
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from party_common.booking import service_dos
from party_common.identifiers import DOS_SYSTEM, NHS_NUMBER_SYSTEM

from .readback import pages, read_back

pytestmark = pytest.mark.sockets

SERVICE_PARAM = "Schedule.actor:HealthcareService"
# A month of one service's calendar: several pages at fhirpy's page size, well short of thousands.
MONTH = ("ge2027-02-01T00:00:00+00:00", "lt2027-03-01T00:00:00+00:00")
WALK_PAGES = 2000


def _trust_of(booking: dict) -> str:
    return booking["service"].split("-")[0].upper()


def _accepted(stack, trust: str | None = None) -> list[dict]:
    return [b for b in stack.bookings() if b["outcome"] == "accepted" and trust in (None, _trust_of(b))]


@pytest.fixture(scope="module")
def trust(stack) -> str:
    """The trust that took the most of the run's bookings."""
    return collections.Counter(_trust_of(b) for b in _accepted(stack)).most_common(1)[0][0]


@pytest.fixture(scope="module")
def base(stack, trust) -> str:
    return f"{stack.pas}/{trust}"


def _read_back(bundle) -> int:
    """Every fullUrl of a searchset a client got reads back (outcome entries have none)."""
    # fhirpy hands back its own resource objects; serialised, they are the JSON it was sent.
    plain = json.loads(json.dumps(bundle, default=lambda r: r.serialize()))
    plain["entry"] = [e for e in plain.get("entry", []) if "fullUrl" in e]
    return read_back([plain])


def _nhs(appointment) -> str | None:
    for p in appointment["participant"]:
        identifier = p["actor"].get("identifier") or {}
        if identifier.get("system") == NHS_NUMBER_SYSTEM:
            return identifier["value"]
    return None


def test_fhirpy_sync_appointments_totals_patients_and_reads(stack, trust, base):
    client = SyncFHIRClient(base)
    everything = client.resources("Appointment").limit(7)
    fetched = everything.fetch_all()
    assert len(fetched) == everything.count() == len({a["id"] for a in fetched})
    ours = _accepted(stack, trust)
    assert {a["identifier"][0]["value"] for a in fetched} >= {b["ubrn"] for b in ours}

    by_patient = collections.Counter(b["nhs_number"] for b in ours)
    for nhs, booked in by_patient.items():
        found = client.resources("Appointment").search(**{"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"})
        mine = found.fetch_all()
        assert {_nhs(a) for a in mine} == {nhs}, nhs
        assert len(mine) == found.count() >= booked
    # A number no one in the run has finds nothing, where it used to find everyone's bookings.
    assert client.resources("Appointment").search(**{"patient:identifier": "9990000000"}).count() == 0

    one = fetched[0]
    assert client.resources("Appointment").search(identifier=one["identifier"][0]["value"]).count() == 1
    assert client.reference("Appointment", one["id"]).to_resource()["id"] == one["id"]
    slot = client.reference(reference=one["slot"][0]["reference"]).to_resource()
    assert slot["status"] == "busy"
    assert _read_back(everything.fetch_raw()) == 7


def test_fhirpy_sync_slots_the_bars_query_with_includes(stack, trust, base):
    client = SyncFHIRClient(base)
    service = _accepted(stack, trust)[0]["service"]
    slots = (client.resources("Slot")
             .search(**{SERVICE_PARAM: f"{DOS_SYSTEM}|{service_dos(service)}", "status": "free,busy",
                        "start": list(MONTH)}).limit(100))
    month = slots.fetch_all()
    assert len(month) == slots.count() == len({s["id"] for s in month}) > 100
    assert [s["start"] for s in month] == sorted(s["start"] for s in month)

    bundle = (slots.include("Slot", "schedule").include("Schedule", "actor", "HealthcareService", iterate=True)
              .include("HealthcareService", "providedBy", iterate=True).limit(5).fetch_raw())
    included = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]
                if e["search"]["mode"] == "include"]
    assert included == [("Schedule", service), ("HealthcareService", service), ("Organization", trust)]
    assert _read_back(bundle) == 8
    schedule = client.reference("Schedule", service).to_resource()
    assert client.reference(reference=schedule["actor"][0]["reference"]).to_resource()["id"] == service


# What each directory search can bring along, so the included entries' fullUrls are read back too.
DIRECTORY_INCLUDES = {"HealthcareService": ("HealthcareService", "location"), "Schedule": ("Schedule", "actor"),
                      "Location": ("Location", "organization"), "Organization": None, "ServiceRequest": None}


@pytest.mark.parametrize("path", list(DIRECTORY_INCLUDES))
def test_fhirpy_sync_directory_searches_count_and_read_back(base, path):
    client = SyncFHIRClient(base)
    search = client.resources(path).limit(3)
    assert len(search.fetch_all()) == search.count()
    include = DIRECTORY_INCLUDES[path]
    bundle = (search.include(*include) if include else search).fetch_raw()
    assert _read_back(bundle) >= len([e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"])


async def test_fhirpy_async_the_same_answers(stack, trust, base):
    client = AsyncFHIRClient(base)
    appointments = client.resources("Appointment").limit(4)
    fetched = await appointments.fetch_all()
    assert len(fetched) == await appointments.count()
    nhs = _accepted(stack, trust)[0]["nhs_number"]
    mine = await client.resources("Appointment").search(**{"patient:identifier": nhs}).fetch_all()
    assert mine and {_nhs(a) for a in mine} == {nhs}
    service = _accepted(stack, trust)[0]["service"]
    slots = client.resources("Slot").search(**{SERVICE_PARAM: service, "status": "free", "start": list(MONTH)})
    assert len(await slots.limit(100).fetch_all()) == await slots.count()
    bundle = await slots.include("Slot", "schedule").include("Schedule", "actor", "HealthcareService",
                                                            iterate=True).limit(3).fetch_raw()
    assert {e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include"} == {
        "Schedule", "HealthcareService"}
    assert (await client.reference("HealthcareService", service).to_resource())["id"] == service


def test_smart_fhirclient_searches(stack, trust, base):
    smart = smart_client.FHIRClient(settings={"app_id": "testbed", "api_base": base})
    server = smart.server
    ours = _accepted(stack, trust)
    nhs = ours[0]["nhs_number"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # perform_resources: its replacement iterates alike
        mine = SmartAppointment.where(struct={"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}).perform_resources(
            server)
        assert mine and all(p.actor.identifier.value == nhs for a in mine for p in a.participant
                            if p.actor.identifier is not None)
        everything = SmartAppointment.where(struct={"_count": "5"}).perform_resources(server)
        first = SmartAppointment.where(struct={"_count": "5"}).perform(server)
        assert len(everything) == first.total >= len(ours)
        service = ours[0]["service"]
        search = SmartSlot.where(struct={SERVICE_PARAM: service_dos(service), "status": "free",
                                         "_count": "50"}).include("schedule")
        page = search.perform(server)
        assert page.total > 50 and {e.resource.resource_type for e in page.entry} == {"Slot", "Schedule"}
        assert _read_back(page.as_json()) == 51
        services = SmartHealthcareService.where(struct={"_count": "4"}).perform_resources(server)
        assert len(services) == SmartHealthcareService.where(struct={}).perform(server).total
    assert SmartSlot.read(page.entry[0].resource.id, server).id == page.entry[0].resource.id


def test_a_long_walk_of_next_links_keeps_their_length(stack, trust, base):
    """2,000 pages of one slot each, by raw `next` links (a few seconds over loopback)."""
    service = _accepted(stack, trust)[0]["service"]
    walked = pages(f"{base}/Slot", {SERVICE_PARAM: service, "_count": 1}, most=WALK_PAGES)
    totals = {page["total"] for page in walked}
    ids = {e["resource"]["id"] for page in walked for e in page["entry"]}
    assert len(walked) == len(ids) == WALK_PAGES and all(len(page["entry"]) == 1 for page in walked)
    assert len(totals) == 1 and totals.pop() > WALK_PAGES
