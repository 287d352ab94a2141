"""Every CapabilityStatement the parties serve keeps R4's invariants (contracts/capability_rules.py),
reads as R4, and declares as received the events its inbox really takes."""

from __future__ import annotations

import uuid

import pytest

from contracts import snapshots
from contracts.capability_rules import structure_errors, violations
from party_common.messaging import (
    BOOKING_CANCEL,
    BOOKING_REQUEST,
    SERVICEREQUEST_REQUEST,
    SERVICEREQUEST_RESPONSE,
    MessageBuilder,
    Org,
    definition,
)

EVENTS = (BOOKING_REQUEST, BOOKING_CANCEL, SERVICEREQUEST_REQUEST, SERVICEREQUEST_RESPONSE)


async def statements(app, client) -> dict[str, dict]:
    """path -> statement: the root's and every hosted trust's or practice's."""
    paths = ["/metadata", *(f"/{ods}/metadata" for ods in getattr(app.state, "inboxes", {}))]
    return {path: (await client.get(path)).json() for path in paths}


def received(statement: dict) -> set[str]:
    return {m["definition"] for section in statement.get("messaging", []) for m in section["supportedMessage"]
            if m["mode"] == "receiver"}


@pytest.mark.parametrize("party", list(snapshots.PARTIES))
async def test_every_statement_keeps_the_r4_invariants(party):
    async with snapshots.served(party) as (app, client):
        served = await statements(app, client)
    if party in ("pas", "gp"):
        assert len(served) > 1, "no trust or practice statement was found"
    for path, statement in served.items():
        assert violations(statement) == [], f"{party} {path}"
        assert structure_errors(statement) == [], f"{party} {path}"
        # Messages are received where the statement says: at its base, or at each hosted tenant's.
        addresses = [e["address"] for section in statement["messaging"] for e in section["endpoint"]]
        assert addresses and all(a.startswith(f"http://{party}.test") for a in addresses), (path, addresses)


@pytest.mark.parametrize("party", ["spine", "pas", "gp"])
async def test_declared_receivers_are_the_events_the_inboxes_take(party):
    async with snapshots.served(party) as (app, client):
        served = await statements(app, client)
        inboxes = getattr(app.state, "inboxes", None) or {"": app.state.inbox}
    taken = {frozenset(definition(event) for event in inbox.handlers) for inbox in inboxes.values()}
    assert len(taken) == 1, taken  # every tenant takes the same events, so the root can name them
    for path, statement in served.items():
        assert received(statement) == set(next(iter(taken))), path


async def test_the_broker_declares_the_events_it_dispatches():
    """The broker's inbox has no table of handlers: an event it does not handle is refused as
    `not-supported` before the message is read; one it handles is read (and here refused for want of
    a focus)."""
    candidates = [*EVENTS, "booking-response", "practice-notification"]
    async with snapshots.served("broker") as (_app, client):
        declared = received((await client.get("/metadata")).json())
        handled = set()
        for event in candidates:
            b = MessageBuilder()
            message = b.build(event, sender=b.org(Org("Y90001")), destination="https://fhir.nhs.uk/Id/dos-service-id|1")
            r = await client.post("/$process-message", json=message, headers={
                "Content-Type": "application/fhir+json", "X-Request-Id": str(uuid.uuid4()),
                "X-Correlation-Id": str(uuid.uuid4())})
            assert r.status_code == 422, (event, r.text)
            if r.json()["issue"][0]["code"] != "not-supported":
                handled.add(definition(event))
    assert handled and handled == declared
