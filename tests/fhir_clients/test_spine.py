"""The spine's searches and reads (booking index, demographics) as fhirpy and SMART's fhirclient use them."""

from __future__ import annotations

from collections import Counter

import pytest
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment
from fhirclient.models.patient import Patient
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from party_common.identifiers import NHS_NUMBER_SYSTEM, UBRN_SYSTEM

from .readback import pages, read_back, total

pytestmark = [pytest.mark.sockets,
              pytest.mark.filterwarnings("ignore:perform_resources:DeprecationWarning")]

PAGE = 7


@pytest.fixture(scope="module")
def patient(stack) -> tuple[str, set[str]]:
    """The patient with the most bookings in the run, and the UBRNs of those bookings."""
    booked = [b for b in stack.bookings() if b["ubrn"]]
    nhs = Counter(b["nhs_number"] for b in booked).most_common(1)[0][0]
    return nhs, {b["ubrn"] for b in booked if b["nhs_number"] == nhs}


def _smart(stack):
    return smart_client.FHIRClient(settings={"app_id": "testbed-tests", "api_base": stack.spine}).server


def _ubrns(appointments: list[dict]) -> set[str]:
    return {i["value"] for a in appointments for i in a.get("identifier") or [] if i["system"] == UBRN_SYSTEM}


def test_index_fetch_all_equals_total_with_both_fhirpy_clients(stack):
    search = SyncFHIRClient(stack.spine).resources("Appointment").limit(PAGE)
    counted = search.count()
    found = search.fetch_all()
    assert len(found) == counted == total(f"{stack.spine}/Appointment") > PAGE
    assert _ubrns([a.serialize() for a in found]) == {b["ubrn"] for b in stack.bookings() if b["ubrn"]}


async def test_index_by_patient_with_async_fhirpy_and_read_by_ubrn(stack, patient):
    nhs, ubrns = patient
    client = AsyncFHIRClient(stack.spine)
    search = client.resources("Appointment").search(**{"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}).limit(1)
    found = await search.fetch_all()
    assert len(found) == await search.count() < total(f"{stack.spine}/Appointment")
    assert _ubrns([a.serialize() for a in found]) == ubrns
    assert {p["actor"]["identifier"]["value"] for a in found for p in a.serialize()["participant"]
            if "identifier" in p["actor"]} == {nhs}
    ubrn = sorted(ubrns)[0]
    read = await client.reference("Appointment", ubrn).to_resource()
    assert _ubrns([read.serialize()]) == {ubrn}


def test_index_by_patient_and_by_ubrn_with_fhirclient(stack, patient):
    nhs, ubrns = patient
    server = _smart(stack)
    found = Appointment.where(struct={"patient:identifier": nhs, "_count": "1"}).perform_resources(server)
    assert _ubrns([a.as_json() for a in found]) == ubrns
    ubrn = sorted(ubrns)[-1]
    [one] = Appointment.where(struct={"identifier": f"{UBRN_SYSTEM}|{ubrn}"}).perform_resources(server)
    assert Appointment.read(ubrn, server).as_json() == one.as_json()


def test_demographics_by_identifier_family_and_birthdate(stack, patient):
    nhs, _ = patient
    client = SyncFHIRClient(stack.spine)
    him = client.resources("Patient").search(identifier=f"{NHS_NUMBER_SYSTEM}|{nhs}").get().serialize()
    family, born = him["name"][0]["family"], him["birthDate"]
    namesakes = client.resources("Patient").search(family=family.lower()).limit(PAGE)
    found = [p.serialize() for p in namesakes.fetch_all()]
    assert len(found) == namesakes.count() and nhs in {p["id"] for p in found}
    assert all(p["name"][0]["family"].lower().startswith(family.lower()) for p in found)
    same_day = Patient.where(struct={"family": family, "birthdate": born}).perform_resources(_smart(stack))
    assert nhs in {p.id for p in same_day} and {p.birthDate.isostring for p in same_day} == {born}
    assert Patient.read(nhs, _smart(stack)).as_json() == him


def test_demographics_count_and_every_fullurl_reads_back(stack):
    assert SyncFHIRClient(stack.spine).resources("Patient").count() == total(f"{stack.spine}/Patient") > 0
    assert read_back(pages(f"{stack.spine}/Patient", {"_count": 25}, most=2)) == 50


def test_every_index_fullurl_reads_back(stack):
    assert read_back(pages(f"{stack.spine}/Appointment", {"_count": PAGE})) == total(f"{stack.spine}/Appointment")
