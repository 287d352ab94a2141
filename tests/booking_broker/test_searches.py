"""The broker's other searches and reads on a whole in-process stack: the ledger (Appointment) by
patient, UBRN, status and id, sorted and paged; the referral ledger (ServiceRequest); the directory
(HealthcareService); and every fullUrl of their searchsets read back."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from party_common.booking import REFERRAL_SYSTEM, BookingFacts, practice_message
from party_common.identifiers import DOS_SYSTEM, NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, UBRN_SYSTEM, dos_id
from tests.booking_broker import direct_driver as dd
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)
FHIR = {"Content-Type": "application/fhir+json"}


def _ids(bundle: dict, kind: str) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


async def _reads_back(client, bundle: dict) -> None:
    for entry in bundle["entry"]:
        read = await client.get(entry["fullUrl"])
        assert read.status_code == 200 and read.json() == entry["resource"], entry["fullUrl"]


async def _book(client, urls, index: int, practice: str, nhs: str, service: str, slot: dict) -> str:
    r = await client.post(f"{urls.broker}/$process-message", headers=FHIR,
                          json=dd.request_message(11, index, practice, nhs, service, slot, urls.broker))
    assert r.status_code == 200, r.text
    return dd.ubrn_in(r.json())


async def test_the_ledger_is_searched_by_patient_ubrn_status_and_id_and_read_by_ubrn(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        b = urls.broker
        pool = await dd.slot_pool(client, urls, per_service=1)
        (practice, first), (_, second) = (await dd.patients(client, urls))[:2]
        ubrns = [await _book(client, urls, i, practice, nhs, *pool[i])
                 for i, nhs in enumerate((first, first, second))]
        service, slot = pool[0]
        cancel = practice_message("booking-cancel", BookingFacts(
            ubrn=ubrns[0], nhs_number=first, trust_ods=None, gp_ods=practice, service_id=service, slot_id=slot["id"],
            start=slot["start"], end=slot["end"], status="cancelled"))
        assert (await client.post(f"{b}/$process-message", json=cancel, headers=FHIR)).status_code == 200

        mine = (await client.get(f"{b}/Appointment", params={"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{first}"})).json()
        assert sorted(_ids(mine, "Appointment")) == sorted(ubrns[:2]) and mine["total"] == 2
        for a in (e["resource"] for e in mine["entry"]):
            assert [p["actor"]["identifier"]["value"] for p in a["participant"] if "identifier" in p["actor"]] == [first]
        bare = (await client.get(f"{b}/Appointment", params={"patient:identifier": second})).json()
        assert _ids(bare, "Appointment") == [ubrns[2]]
        elsewhere = (await client.get(f"{b}/Appointment", params={"patient:identifier": f"urn:other|{first}"})).json()
        assert elsewhere["total"] == 0

        by_ubrn = (await client.get(f"{b}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrns[1]}"})).json()
        assert _ids(by_ubrn, "Appointment") == [ubrns[1]]
        assert (await client.get(f"{b}/Appointment", params={"status": "cancelled"})).json()["total"] == 1
        booked = (await client.get(f"{b}/Appointment", params={"status": "booked", "_id": ",".join(ubrns)})).json()
        assert sorted(_ids(booked, "Appointment")) == sorted(ubrns[1:])

        newest_first = (await client.get(f"{b}/Appointment", params={"_sort": "-_id"})).json()
        assert _ids(newest_first, "Appointment") == sorted(ubrns, reverse=True)
        by_date = (await client.get(f"{b}/Appointment", params={"_sort": "date"})).json()
        starts = [e["resource"]["start"] for e in by_date["entry"]]
        assert starts == sorted(starts)

        seen, url = [], f"{b}/Appointment?_count=2"
        while url:
            page = (await client.get(url)).json()
            assert page["total"] == 3
            seen += _ids(page, "Appointment")
            await _reads_back(client, page)
            url = _next(page)
        assert seen == sorted(ubrns)
        read = (await client.get(f"{b}/Appointment/{ubrns[2]}")).json()
        # What an Appointment points to resolves at the broker too.
        for ref in (read["slot"][0]["reference"], read["participant"][1]["actor"]["reference"]):
            assert (await client.get(f"{b}/{ref}")).status_code == 200, ref
        missing = await client.get(f"{b}/Appointment/999999999999")
        assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


async def test_the_referral_ledger_is_searched_by_patient_and_referral_id_and_read(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        b = urls.broker
        (practice, nhs), (_, other) = (await dd.patients(client, urls))[:2]
        service = (await client.get(f"{b}/HealthcareService")).json()["entry"][0]["resource"]
        referrals = []
        for patient in (nhs, other):
            sr = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                  "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": patient}},
                  "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": service["type"][0]["coding"][0]["code"]}]}}
            created = (await client.post(f"{urls.gp}/{practice}/ServiceRequest", json=sr, headers=FHIR)).json()
            params = {"resourceType": "Parameters", "parameter": [{"name": "service", "valueString": service["id"]}]}
            r = await client.post(f"{urls.gp}/{practice}/ServiceRequest/{created['id']}/$refer", json=params,
                                  headers=FHIR)
            assert r.status_code == 200, r.text
            referrals.append(created["id"])

        everything = (await client.get(f"{b}/ServiceRequest")).json()
        assert sorted(_ids(everything, "ServiceRequest")) == sorted(referrals) and everything["total"] == 2
        await _reads_back(client, everything)
        mine = (await client.get(f"{b}/ServiceRequest", params={"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"})).json()
        assert _ids(mine, "ServiceRequest") == [referrals[0]]
        by_id = (await client.get(f"{b}/ServiceRequest", params={"identifier": f"{REFERRAL_SYSTEM}|{referrals[1]}"})).json()
        assert _ids(by_id, "ServiceRequest") == [referrals[1]]
        bars = (await client.get(f"{b}/ServiceRequest", params={"ServiceRequest.identifier": referrals[1]})).json()
        assert _ids(bars, "ServiceRequest") == [referrals[1]]
        assert (await client.get(f"{b}/ServiceRequest", params={"_id": referrals[0]})).json()["total"] == 1
        assert (await client.get(f"{b}/ServiceRequest/no-such-referral")).status_code == 404


async def test_the_directory_is_searched_by_dos_id_specialty_type_and_trust_and_paged(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        b = urls.broker
        everything = (await client.get(f"{b}/HealthcareService")).json()
        services = [e["resource"] for e in everything["entry"]]
        assert everything["total"] == len(services) > 4 and _next(everything) is None
        cardiology = [s["id"] for s in services if s["type"][0]["coding"][0]["code"] == "cardiology"]
        for params in ({"specialty": "cardiology"}, {"specialty": f"{SPECIALTY_SYSTEM}|cardiology"},
                       {"service-type": "cardiology"}):
            assert sorted(_ids((await client.get(f"{b}/HealthcareService", params=params)).json(),
                               "HealthcareService")) == sorted(cardiology), params
        wanted = "rt1-rt101-cardiology"
        by_dos = (await client.get(f"{b}/HealthcareService",
                                   params={"identifier": f"{DOS_SYSTEM}|{dos_id('service', wanted)}"})).json()
        assert _ids(by_dos, "HealthcareService") == [wanted]
        rt1 = {s["id"] for s in services if s["providedBy"]["identifier"]["value"] == "RT1"}
        for value in ("RT1", "Organization/RT1"):
            found = (await client.get(f"{b}/HealthcareService", params={"organization": value})).json()
            assert set(_ids(found, "HealthcareService")) == rt1, value
        assert _ids((await client.get(f"{b}/HealthcareService", params={"_id": wanted})).json(),
                    "HealthcareService") == [wanted]

        seen, url = [], f"{b}/HealthcareService?_count=4&_sort=-name&_include=HealthcareService:providedBy"
        while url:
            page = (await client.get(url)).json()
            seen += _ids(page, "HealthcareService")
            assert page["total"] == len(services)
            assert {o["id"] for o in (e["resource"] for e in page["entry"] if e["search"]["mode"] == "include")} == \
                {e["resource"]["providedBy"]["identifier"]["value"] for e in page["entry"]
                 if e["search"]["mode"] == "match"}
            # The trusts' Organizations are read at the PAS that holds them, the services here.
            await _reads_back(client, page)
            url = _next(page)
        names = {s["id"]: s["name"] for s in services}
        assert seen == sorted(names, key=lambda i: names[i], reverse=True)
        strict = await client.get(f"{b}/HealthcareService", params={"colour": "blue"},
                                  headers={"Prefer": "handling=strict"})
        assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["colour"]


async def test_a_bars_slot_query_gets_the_slots_their_schedules_services_and_trusts(tmp_path):
    """The query as BaRS's spec writes it, at the broker, on the real PAS."""
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        b = urls.broker
        first = (await client.get(f"{b}/Slot", params={"service": "rt1-rt101-cardiology", "_count": 1})).json()
        day = first["entry"][0]["resource"]["start"][:10]
        query = [("status", "free,busy"), ("start", f"ge{day}T00:00:00+00:00"), ("start", f"le{day}T23:59:59+00:00"),
                 ("Schedule.actor:HealthcareService", dos_id("service", "rt1-rt101-cardiology")),
                 ("_include", "Slot:schedule"), ("_include:iterate", "Schedule:actor:HealthcareService"),
                 ("_include", "HealthcareService:providedBy"), ("_count", "5")]
        body = (await client.get(f"{b}/Slot", params=query)).json()
        kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]]
        assert kinds == [("Slot", "match")] * 5 + [("Schedule", "include"), ("HealthcareService", "include"),
                                                    ("Organization", "include")]
        assert body["total"] > 5 and _next(body)
        await _reads_back(client, body)
        applied = [k for k, _ in parse_qsl(urlsplit(body["link"][0]["url"]).query)]
        assert applied.count("start") == 2 and "_include:iterate" in applied
