"""The GP system's searches and reads as fhirpy (sync and async) and SMART's fhirclient use them."""

from __future__ import annotations

from collections import Counter

import pytest
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment
from fhirclient.models.organization import Organization
from fhirclient.models.patient import Patient
from fhirclient.models.servicerequest import ServiceRequest
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from party_common.identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM

from .readback import pages, read_back, total

pytestmark = [pytest.mark.sockets,
              pytest.mark.filterwarnings("ignore:perform_resources:DeprecationWarning")]

# Small pages, so every search here takes several and the clients must follow `next` links.
PAGE = 4


def _ubrn(appointment) -> str | None:
    return next((i["value"] for i in appointment.get("identifier") or [] if i["system"] == UBRN_SYSTEM), None)


def _nhs(appointment) -> str:
    return next(p["actor"]["identifier"]["value"] for p in appointment["participant"]
                if (p["actor"].get("identifier") or {}).get("system") == NHS_NUMBER_SYSTEM)


@pytest.fixture(scope="module")
def practice(stack) -> tuple[str, list[dict]]:
    """The practice with the most bookings in the run, and those bookings (each with its UBRN)."""
    booked = [b for b in stack.bookings() if b["ubrn"]]
    ods = Counter(b["practice"] for b in booked).most_common(1)[0][0]
    return ods, [b for b in booked if b["practice"] == ods]


@pytest.fixture(scope="module")
def patient(practice) -> tuple[str, set[str]]:
    """A patient of that practice with a booking, while others there have bookings too, and the UBRNs."""
    ods, bookings = practice
    nhs = bookings[0]["nhs_number"]
    assert any(b["nhs_number"] != nhs for b in bookings), "the run gave the practice one patient's bookings only"
    return nhs, {b["ubrn"] for b in bookings if b["nhs_number"] == nhs}


def _smart(base: str):
    return smart_client.FHIRClient(settings={"app_id": "testbed-tests", "api_base": base}).server


@pytest.mark.parametrize("kind", ["Appointment", "ServiceRequest", "Patient"])
def test_fhirpy_sync_fetch_all_equals_total_and_count_works(stack, practice, kind):
    ods, bookings = practice
    base = f"{stack.gp}/{ods}"
    search = SyncFHIRClient(base).resources(kind).limit(PAGE if kind != "Patient" else 500)
    counted = search.count()
    assert counted == total(f"{base}/{kind}")
    found = search.fetch_all()
    assert len(found) == counted == len({r.id for r in found})
    if kind == "Appointment":
        assert {b["ubrn"] for b in bookings} <= {_ubrn(r.serialize()) for r in found}


async def test_fhirpy_async_fetch_all_count_and_patient_identifier(stack, practice, patient):
    ods, _ = practice
    nhs, ubrns = patient
    client = AsyncFHIRClient(f"{stack.gp}/{ods}")
    every = client.resources("Appointment").limit(PAGE)
    counted = await every.count()
    found = await every.fetch_all()
    assert len(found) == counted == total(f"{stack.gp}/{ods}/Appointment")
    mine = await client.resources("Appointment").search(**{"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}) \
        .limit(1).fetch_all()
    assert {_nhs(a.serialize()) for a in mine} == {nhs}
    assert {_ubrn(a.serialize()) for a in mine if _ubrn(a.serialize())} == ubrns
    assert len(mine) < counted
    first = await client.reference("Appointment", mine[0].id).to_resource()
    assert first.serialize() == mine[0].serialize()


def test_patient_identifier_returns_only_that_patients_bookings(stack, practice, patient):
    ods, _ = practice
    nhs, ubrns = patient
    base = f"{stack.gp}/{ods}"
    token = f"{NHS_NUMBER_SYSTEM}|{nhs}"
    by_fhirpy = SyncFHIRClient(base).resources("Appointment").search(**{"patient:identifier": token}).fetch_all()
    by_smart = Appointment.where(struct={"patient:identifier": token, "_count": "1"}).perform_resources(_smart(base))
    for found in ([a.serialize() for a in by_fhirpy], [a.as_json() for a in by_smart]):
        assert {_nhs(a) for a in found} == {nhs}
        assert {_ubrn(a) for a in found if _ubrn(a)} == ubrns
    assert len(by_smart) == len(by_fhirpy) < total(f"{base}/Appointment")
    referrals = SyncFHIRClient(base).resources("ServiceRequest").search(**{"patient:identifier": token}).fetch_all()
    assert referrals and {r.serialize()["subject"]["identifier"]["value"] for r in referrals} == {nhs}


def test_fhirclient_walks_every_page_and_reads_each_resource(stack, practice, patient):
    ods, bookings = practice
    nhs, _ = patient
    base = f"{stack.gp}/{ods}"
    server = _smart(base)
    appointments = Appointment.where(struct={"_count": str(PAGE)}).perform_resources(server)
    assert len(appointments) == total(f"{base}/Appointment")
    assert Appointment.read(appointments[-1].id, server).as_json() == appointments[-1].as_json()
    [one] = Patient.where(struct={"identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}).perform_resources(server)
    assert Patient.read(one.id, server).as_json() == one.as_json()
    referrals = ServiceRequest.where(struct={"_count": str(PAGE), "status": "active"}).perform_resources(server)
    assert len(referrals) == total(f"{base}/ServiceRequest") >= len(bookings)
    practices = Organization.where(struct={"identifier": f"{ODS_SYSTEM}|{ods}"}).perform_resources(_smart(stack.gp))
    assert [o.id for o in practices] == [ods]
    assert Organization.read(ods, _smart(stack.gp)).name == practices[0].name


def test_organizations_fetch_all_and_read_back(stack):
    search = SyncFHIRClient(stack.gp).resources("Organization").limit(2)
    found = search.fetch_all()
    assert len(found) == search.count() == total(f"{stack.gp}/Organization") > 2
    assert SyncFHIRClient(stack.gp).reference("Organization", found[0].id).to_resource().serialize() == \
        found[0].serialize()
    assert read_back(pages(f"{stack.gp}/Organization", {"_count": 2})) == len(found)


@pytest.mark.parametrize("kind, params", [("Appointment", {"_count": PAGE}), ("ServiceRequest", {"_count": PAGE}),
                                          ("Patient", {"_count": 50, "_offset": 100})])
def test_every_searchset_fullurl_reads_back(stack, practice, kind, params):
    ods, _ = practice
    # A practice's whole patient list is thousands of reads; two pages show it.
    bundles = pages(f"{stack.gp}/{ods}/{kind}", params, most=2 if kind == "Patient" else None)
    assert read_back(bundles) > PAGE
