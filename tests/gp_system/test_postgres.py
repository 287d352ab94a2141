"""The whole practice flow on PostgreSQL: schema, bulk seed, constraints and dedupe store."""

from __future__ import annotations

import pytest

from party_common.population import PRACTICES
from tests.inprocess import client_for

from .conftest import GP, POPULATION_SIZE, PRACTICE, Stack, make_stack_parts
from .fakes import booking_of

pytestmark = pytest.mark.postgres


async def test_refer_book_confirm_cancel_on_postgres(postgres_url):
    app, spine, broker, population = make_stack_parts(postgres_url)
    async with client_for(app, base_url=GP) as client:
        broker.gp = client
        stack = Stack(client, spine, broker, app, population)
        totals = [(await client.get(f"/{ods}/Patient")).json()["total"] for ods, _ in PRACTICES]
        assert sum(totals) == POPULATION_SIZE

        ref = await stack.refer()
        resp = await stack.book(ref["id"], start="2030-01-01T00:00:00Z")
        assert resp.status_code == 200
        facts = booking_of(resp.json())
        assert (await stack.book(ref["id"], start="2030-01-01T00:00:00Z")).status_code == 409

        status, _ = await broker.confirm(broker.received[-1], facts)
        assert status == 200
        [(_, confirmation)] = broker.confirmations
        replay = await stack.post(f"/{PRACTICE}/$process-message", confirmation)
        assert replay.status_code == 200
        assert (await stack.appointments())[0]["status"] == "booked"

        assert (await client.post(f"/{PRACTICE}/Appointment/{facts.ubrn}/$cancel",
                                  headers={"Content-Type": "application/fhir+json"})).status_code == 200
        sent = broker.received[-1]
        await broker.confirm(sent, booking_of(sent))
        [appt] = await stack.appointments(identifier=facts.ubrn)
        assert appt["status"] == "cancelled"
