"""A trust that cannot be asked is a transient failure (503, Retry-After), never a refusal."""

from __future__ import annotations

import pytest

from party_common.booking import BookingFacts, practice_message
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)
FHIR = {"Content-Type": "application/fhir+json"}


async def _practice_and_patient(client, urls) -> tuple[str, str]:
    practice = (await client.get(f"{urls.gp}/Organization")).json()["entry"][0]["resource"]["id"]
    nhs = (await client.get(f"{urls.gp}/{practice}/Patient", params={"_count": 1})).json()["entry"][0][
        "resource"]["identifier"][0]["value"]
    return practice, nhs


def _booking(practice: str, nhs: str, service: str, start: str, end: str) -> dict:
    # The Slot by its start only: the broker must ask the trust which slot that is.
    return practice_message("booking-request", BookingFacts(
        ubrn=None, nhs_number=nhs, trust_ods=None, gp_ods=practice, service_id=service, slot_id=None,
        start=start, end=end))


def _assert_transient(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    issue = r.json()["issue"][0]
    assert issue["code"] == "transient"
    assert issue["details"]["coding"][0]["code"] == "REC_SERVICE_UNAVAILABLE"


async def test_a_slot_search_lost_on_the_way_to_the_trust_is_503_and_spends_no_ubrn(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        practice, nhs = await _practice_and_patient(client, urls)
        service = (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"][0]["resource"]["id"]
        slot = (await client.get(f"{urls.broker}/Slot", params={"service": service})).json()["entry"][0]["resource"]
        rule = (await client.post(f"{urls.broker}/faults", json={"link": "broker->pas:*", "event": "slot-search",
                                                                  "action": "drop"})).json()
        message = _booking(practice, nhs, service, slot["start"], slot["end"])
        _assert_transient(await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR))
        assert (await client.get(f"{urls.broker}/Appointment")).json()["total"] == 0
        journal = (await client.get(f"{urls.broker}/journal", params={"_count": 1000})).json()["entries"]
        assert not [e for e in journal if e["event"] == "allocate-ubrn"]
        # The same message once the trust can be asked again: booked.
        await client.delete(f"{urls.broker}/faults/{rule['id']}")
        assert (await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR)).status_code == 200


async def test_a_trust_unheard_when_the_directory_was_read_makes_its_services_503_until_it_answers(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        practice, nhs = await _practice_and_patient(client, urls)
        # What RT1 offers, asked of the trust itself: the broker has not read its directory yet.
        services = (await client.get(f"{urls.pas}/RT1/HealthcareService")).json()["entry"]
        service = services[0]["resource"]["id"]
        slot = (await client.get(f"{urls.pas}/RT1/Slot", params={"service": service, "status": "free"})).json()[
            "entry"][0]["resource"]
        rule = (await client.post(f"{urls.broker}/faults", json={"link": "broker->pas:RT1", "event": "directory",
                                                                  "action": "drop"})).json()
        message = _booking(practice, nhs, service, slot["start"], slot["end"])
        _assert_transient(await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR))
        # Another trust's services are not held up by RT1's silence.
        other = next(e["resource"]["id"] for e in (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"])
        assert not other.startswith("rt1-")
        await client.delete(f"{urls.broker}/faults/{rule['id']}")
        r = await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR)
        assert r.status_code == 200, r.text


async def test_a_service_no_trust_offers_is_still_a_refusal_when_every_trust_answered(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        practice, nhs = await _practice_and_patient(client, urls)
        message = _booking(practice, nhs, "no-such-service", "2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00")
        r = await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR)
        assert r.status_code == 422 and r.json()["issue"][0]["code"] == "not-found"


async def test_a_practice_whose_slot_search_lost_its_trusts_hears_503_not_no_free_slot(tmp_path):
    """The GP system's `$book` asks the broker for the first free slot; when the broker could not
    search a trust, an empty page is not "no free slot" but an answer not known yet."""
    from harness.run.workload import referral_request

    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        practice, nhs = await _practice_and_patient(client, urls)
        specialty = "cardiology"
        r = await client.post(f"{urls.gp}/{practice}/ServiceRequest", json=referral_request(nhs, specialty),
                              headers=FHIR)
        assert r.status_code == 201, r.text
        referral = r.json()["id"]
        rule = (await client.post(f"{urls.broker}/faults", json={"link": "broker->pas:*", "event": "slot-search",
                                                                  "action": "drop"})).json()
        book = {"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": "2000-01-01T00:00:00Z"}]}
        r = await client.post(f"{urls.gp}/{practice}/ServiceRequest/{referral}/$book", json=book, headers=FHIR)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1" and r.json()["issue"][0]["code"] == "transient"
        assert "incomplete" in r.json()["issue"][0]["diagnostics"]
        assert (await client.get(f"{urls.broker}/Appointment")).json()["total"] == 0
        # Asked again once the trusts can be searched: booked.
        await client.delete(f"{urls.broker}/faults/{rule['id']}")
        r = await client.post(f"{urls.gp}/{practice}/ServiceRequest/{referral}/$book", json=book, headers=FHIR)
        assert r.status_code == 200, r.text
