"""The middleware as fhirpy (sync and async) and SMART's fhirclient see it, over real sockets, with the
real legacy PAS behind it: both as uvicorn processes (harness/stack/embedded.py, the legacy trust
RT4), the spine a small one in this process that the test can take away.

A trust's FHIR base is `{middleware}/{ODS}`. What a client gets must be what the legacy PAS holds:
metadata a client can parse, every service, every free slot of a service walked to the end by the
`next` links, and `total` (the SQR's QAK-4) equal to the slots walked, to the calendar's slots less
those the PAS has booked, and one less while a booking of one waits in the middleware's queue.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
import uvicorn
from fhirclient import client as smart_client
from fhirclient.models.healthcareservice import HealthcareService as SmartHealthcareService
from fhirclient.models.slot import Slot as SmartSlot
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from harness.stack.embedded import trusts_json
from party_common.booking import service_dos
from party_common.identifiers import DOS_SYSTEM, ubrn_from_sequence
from party_common.trusts.catalogue import Trust, build_catalogue
from party_common.trusts.schedule import instant_to_minute
from tests.e2e.test_sockets import _free_ports
from tests.middleware.helpers import FakeSpine, patient
from tests.middleware.processes import legacy_processes
from tests.middleware.published import BOOKINGS, known_at, published

from .readback import pages, read_back

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(240)]

ODS = "RT4"
SERVICE_PARAM = "Schedule.actor:HealthcareService"
FEBRUARY = ("ge2027-02-01T00:00:00+00:00", "lt2027-03-01T00:00:00+00:00")
TWO_WEEKS = "2027-01-18T00:00:00+00:00"   # the calendar's first two weeks end here


@dataclass(frozen=True)
class Legacy:
    middleware: str
    legacy_pas: str
    spine: FakeSpine
    trust: Trust

    @property
    def base(self) -> str:
        return f"{self.middleware}/{ODS}"

    def booked(self, service_id: str) -> set[str]:
        """The slots of the service the legacy PAS has booked, from its own extract."""
        rows = httpx.get(f"{self.legacy_pas}/extract/appointments", params={"format": "json"}, timeout=30).json()
        return {r["slot_id"] for r in rows if r["service_id"] == service_id and r["status"] == "booked"}

    def free_slots(self, service_id: str, before: str | None = None) -> int:
        """The slots the calendar gives the service (those starting before `before`, if given), less
        those of them the PAS has booked."""
        t = self.trust.services[service_id].template
        stop = t.stop if before is None else t.ordinal_at_or_after(instant_to_minute(before) or 0)
        booked = [sid for sid in self.booked(service_id) if (found := self.trust.slot(sid)) and found[1] < stop]
        return stop - t.first - len(booked)

    def queue(self) -> dict:
        return httpx.get(f"{self.middleware}/queue", timeout=30).json()


@pytest.fixture(scope="module")
def spine() -> Iterator[tuple[FakeSpine, str]]:
    """The spine's Patient read on a loopback port, in a thread of this process, so a test can take it away."""
    fake = FakeSpine()
    [port] = _free_ports(1)
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:   # bounded by the test's timeout
        assert thread.is_alive(), "the spine's server did not start"
        time.sleep(0.01)
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture(scope="module")
def legacy(tmp_path_factory, spine) -> Iterator[Legacy]:
    fake, spine_url = spine
    # The spine look-up is tried again every 50 ms: how long the spine is away is the test's doing.
    with legacy_processes(tmp_path_factory.mktemp("middleware-clients"), [ODS], spine_url,
                          {"MIDDLEWARE_SPINE_RETRY_S": "0.05"}) as urls:
        trust = build_catalogue(json.loads(trusts_json([ODS])), date(2027, 1, 4), 182).trusts[ODS]
        yield Legacy(urls.middleware or "", urls.legacy_pas or "", fake, trust)


def _service(legacy: Legacy, n: int) -> str:
    return sorted(legacy.trust.services)[n]


def _plain(bundle) -> dict:
    """A Bundle a client got, as JSON (fhirpy hands back its own resource objects)."""
    return json.loads(json.dumps(bundle, default=lambda r: r.serialize()))


def test_fhirclient_and_fhirpy_read_the_trusts_capability_statement(legacy):
    smart = smart_client.FHIRClient(settings={"app_id": "testbed", "api_base": legacy.base + "/"})
    statement = smart.server.capabilityStatement
    assert statement.fhirVersion.startswith("4.0")
    resources = {r.type: {i.code for i in r.interaction} for r in statement.rest[0].resource}
    assert resources == {"HealthcareService": {"read", "search-type"}, "Slot": {"read", "search-type"}}
    assert "process-message" in {o.name for o in statement.rest[0].operation}
    raw = SyncFHIRClient(legacy.base).execute("metadata", method="get")
    assert raw["resourceType"] == "CapabilityStatement"
    assert raw["implementation"]["url"] == statement.implementation.url == legacy.base


def test_fhirpy_sync_services_every_one_counted_and_read_back(legacy):
    client = SyncFHIRClient(legacy.base)
    services = client.resources("HealthcareService").limit(2)
    fetched = services.fetch_all()
    assert sorted(s["id"] for s in fetched) == sorted(legacy.trust.services)
    assert len(fetched) == services.count() == len(legacy.trust.services) > 2   # more than one page
    for service in fetched:
        assert client.reference("HealthcareService", service["id"]).to_resource().serialize() == service.serialize()
        dos = next(i["value"] for i in service["identifier"] if i["system"] == DOS_SYSTEM)
        assert [s["id"] for s in client.resources("HealthcareService").search(identifier=f"{DOS_SYSTEM}|{dos}")
                .fetch_all()] == [service["id"]]
    assert read_back([_plain(services.fetch_raw())]) == 2


def test_fhirpy_sync_every_free_slot_of_a_service_walked_to_the_end(legacy):
    service = _service(legacy, 0)
    client = SyncFHIRClient(legacy.base)
    slots = client.resources("Slot").search(**{SERVICE_PARAM: service, "status": "free"}).limit(100)
    walked = slots.fetch_all()
    ids = [s["id"] for s in walked]
    assert len(ids) == len(set(ids)) == slots.count() == legacy.free_slots(service) > 3000
    assert [s["start"] for s in walked] == sorted(s["start"] for s in walked)
    assert not set(ids) & legacy.booked(service)
    # The same by raw next links (their length kept), and the first page's total the same count.
    raw = pages(f"{legacy.base}/Slot", {"service": f"HealthcareService/{service}", "status": "free", "_count": 100})
    assert [e["resource"]["id"] for p in raw for e in p["entry"]] == ids
    assert raw[0]["total"] == len(ids) and all("total" not in p for p in raw[1:])


def test_fhirpy_sync_a_month_by_dos_id_with_its_schedule_included(legacy):
    service = _service(legacy, 1)
    client = SyncFHIRClient(legacy.base)
    dos = service_dos(service)
    slots = client.resources("Slot").search(**{SERVICE_PARAM: f"{DOS_SYSTEM}|{dos}", "status": "free",
                                               "start": list(FEBRUARY)}).limit(25)
    month = slots.fetch_all()
    assert len(month) == slots.count() == len({s["id"] for s in month}) > 25
    low, high = (instant_to_minute(bound[2:]) or 0 for bound in FEBRUARY)
    assert all(low <= (instant_to_minute(s["start"]) or 0) < high for s in month)
    bundle = _plain(slots.include("Slot", "schedule").limit(5).fetch_raw())
    included = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]
                if e["search"]["mode"] == "include"]
    assert included == [("Schedule", service)]
    assert read_back([bundle]) == 6


async def test_fhirpy_async_the_same_answers(legacy):
    service = _service(legacy, 2)
    client = AsyncFHIRClient(legacy.base)
    slots = client.resources("Slot").search(**{SERVICE_PARAM: service, "status": "free", "start": list(FEBRUARY)})
    month = await slots.limit(30).fetch_all()
    assert len(month) == await slots.count() == len({s["id"] for s in month}) > 30
    assert (await client.reference("HealthcareService", service).to_resource())["id"] == service
    assert len(await client.resources("HealthcareService").fetch_all()) == len(legacy.trust.services)


def test_smart_fhirclient_services_and_slots(legacy):
    server = smart_client.FHIRClient(settings={"app_id": "testbed", "api_base": legacy.base + "/"}).server
    service = _service(legacy, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # perform_resources: its replacement iterates alike
        services = SmartHealthcareService.where(struct={"_count": "2"}).perform_resources(server)
        assert sorted(s.id for s in services) == sorted(legacy.trust.services)
        # fhirclient writes one value a parameter: the window is the calendar's first two weeks.
        search = SmartSlot.where(struct={SERVICE_PARAM: service, "status": "free",
                                         "start": f"lt{TWO_WEEKS}", "_count": "8"})
        first = search.perform(server)
        walked = [s for s in search.perform_resources(server) if s.resource_type == "Slot"]
    assert first.total == len(walked) == len({s.id for s in walked}) == legacy.free_slots(service, TWO_WEEKS) > 8
    assert all(s.status == "free" for s in walked)
    assert SmartSlot.read(walked[-1].id, server).status == "free"


def _smart_total(search, server) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # perform(): its replacement pages alike
        return search.perform(server).total


def test_a_booking_waiting_in_the_queue_is_left_out_and_counted_out_by_every_client(legacy, reference_dir):
    fake, service = legacy.spine, _service(legacy, 2)
    client = SyncFHIRClient(legacy.base)
    search = client.resources("Slot").search(**{SERVICE_PARAM: service, "status": "free", "start": list(FEBRUARY)})
    before = search.limit(50).fetch_all()
    wanted = before[7]   # on the second page at a client's page size of 5
    everything = client.resources("Slot").search(**{SERVICE_PARAM: service, "status": "free"})
    total_before = everything.count()
    assert total_before == legacy.free_slots(service)
    server = smart_client.FHIRClient(settings={"app_id": "testbed", "api_base": legacy.base + "/"}).server
    smart = SmartSlot.where(struct={SERVICE_PARAM: service, "status": "free", "start": f"lt{TWO_WEEKS}",
                                    "_count": "5"})
    smart_before = _smart_total(smart, server)
    url = f"{legacy.base}/$process-message"
    known = known_at(ODS, service, wanted.serialize(), patient(3))

    fake.down = True   # the booking waits in the queue for its patient's look-up
    try:
        r = httpx.post(url, json=published(reference_dir, BOOKINGS[0], known, ubrn_from_sequence(61)),
                       headers={"Content-Type": "application/fhir+json"}, timeout=30)
        assert r.status_code == 200, r.text
        assert legacy.queue()["depth"] == 1 and legacy.booked(service) == set()
        # Not offered, and counted out once, by every client and page size.
        assert [s["id"] for s in search.limit(5).fetch_all()] == [s["id"] for s in before if s["id"] != wanted["id"]]
        assert search.count() == len(before) - 1
        assert everything.count() == total_before - 1
        assert _smart_total(smart, server) == smart_before   # a hold outside the window takes nothing off
        walked = [s["id"] for s in everything.limit(100).fetch_all()]
        assert len(walked) == len(set(walked)) == total_before - 1 and wanted["id"] not in walked
        again = httpx.post(url, json=published(reference_dir, BOOKINGS[1], known, ubrn_from_sequence(62)),
                           headers={"Content-Type": "application/fhir+json"}, timeout=30)
        assert again.status_code == 409, again.text
        assert again.json()["issue"][0]["details"]["coding"][0]["code"] == "REC_CONFLICT"
    finally:
        fake.down = False
    while legacy.queue()["depth"]:   # polled, bounded by the test's timeout
        time.sleep(0.05)
    assert legacy.queue()["settled"] == {"acked": 1}
    assert legacy.booked(service) == {wanted["id"]}
    assert SmartSlot.read(wanted["id"], server).status == "busy"
    assert search.count() == len(before) - 1 and everything.count() == total_before - 1
