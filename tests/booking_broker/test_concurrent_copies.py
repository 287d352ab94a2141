"""Fifty copies of one booking-request sent to the broker at once: one booking, one UBRN, one answer."""

from __future__ import annotations

import asyncio

import pytest

from party_common.booking import BookingFacts, practice_message
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)
FHIR = {"Content-Type": "application/fhir+json"}


async def test_fifty_concurrent_copies_of_one_message_book_once_and_get_one_answer(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        practice = (await client.get(f"{urls.gp}/Organization")).json()["entry"][0]["resource"]["id"]
        nhs = (await client.get(f"{urls.gp}/{practice}/Patient", params={"_count": 1})).json()["entry"][0][
            "resource"]["identifier"][0]["value"]
        service = (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"][0]["resource"]["id"]
        slot = (await client.get(f"{urls.broker}/Slot", params={"service": service})).json()["entry"][0]["resource"]
        head = (await client.get(f"{urls.broker}/journal", params={"_count": 1})).json()["head"]
        message = practice_message("booking-request", BookingFacts(
            ubrn=None, nhs_number=nhs, trust_ods=None, gp_ods=practice, service_id=service, slot_id=slot["id"],
            start=slot["start"], end=slot["end"]))
        answers = await asyncio.gather(*(client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR)
                                         for _ in range(50)))
        assert [r.status_code for r in answers] == [200] * 50
        assert len({r.content for r in answers}) == 1
        assert (await client.get(f"{urls.broker}/Appointment")).json()["total"] == 1
        journal = (await client.get(f"{urls.broker}/journal", params={"since": head, "_count": 1000})).json()
        assert [e["event"] for e in journal["entries"] if e["link"] == "broker->spine"].count("allocate-ubrn") == 1
