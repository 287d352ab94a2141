"""What our parties really send each other holds to the contract's message profiles.

Bookings and a cancellation go through the whole in-process stack while every request between
parties, and its answer, is recorded; each message is then held to the profile of its link.
"""

from __future__ import annotations

from collections import Counter

import httpx
import orjson

from contracts.rules import violations
from harness.run.workload import Workload, discover
from tests import stack_inprocess
from tests.stack_inprocess import inprocess_stack


class Recording(httpx.ASGITransport):
    """An ASGI transport that keeps every (request, answer) pair it carries."""

    seen: list[tuple[httpx.Request, int, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        body = await response.aread()
        Recording.seen.append((request, response.status_code, body))
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)


def _profile(host: str, path: str, body: dict) -> tuple[str, dict] | None:
    """The profile a message on this link must hold to, with its variables; None for other calls."""
    if path.endswith("/$allocate-ubrn"):
        return "allocate-ubrn-request", {}
    if not path.endswith("/$process-message"):
        return None
    event = body["entry"][0]["resource"]["eventCoding"]["code"]
    return {"broker.test": ("gp-booking-request", {"event": event}),
            "pas.test": ("booking-request", {"event": event}),
            "spine.test": ("booking-request", {"event": event}),
            "gp.test": ("confirmation", {"event": event})}[host]


async def test_every_message_between_our_parties_holds_to_its_profile(tmp_path, monkeypatch):
    monkeypatch.setattr(stack_inprocess.httpx, "ASGITransport", Recording)
    monkeypatch.setattr(Recording, "seen", [])
    async with inprocess_stack(tmp_path, population_size=40) as (urls, client, _apps):
        population = await discover(client, urls)
        results = await Workload(urls, population, seed=11, bookings=4, concurrency=2).run(client)
        booked = [r for r in results if r.outcome == "accepted"]
        assert len(booked) == 4
        r = await client.post(f"{urls.gp}/{booked[0].practice}/Appointment/{booked[0].ubrn}/$cancel",
                              headers={"Content-Type": "application/fhir+json"})
        assert r.status_code == 200, r.text

    checked: Counter[str] = Counter()
    for request, status, answer in Recording.seen:
        if request.method != "POST" or not request.content:
            continue
        body = orjson.loads(request.content)
        found = _profile(request.url.host, request.url.path, body)
        if found is None:
            continue
        profile, variables = found
        where = f"{request.url.host}{request.url.path}"
        assert violations(body, profile, **variables) == [], where
        if profile != "allocate-ubrn-request":
            assert status == 200, where
            assert violations(orjson.loads(answer), "response", request_id=body["id"], code="ok",
                              **variables) == [], where
        checked[f"{request.url.host} {profile} {variables.get('event', '')}".strip()] += 1
    assert checked == {
        "spine.test allocate-ubrn-request": 4,
        "broker.test gp-booking-request booking-request": 4, "broker.test gp-booking-request booking-cancel": 1,
        "pas.test booking-request booking-request": 4, "pas.test booking-request booking-cancel": 1,
        "spine.test booking-request booking-request": 4, "spine.test booking-request booking-cancel": 1,
        "gp.test confirmation booking-request": 4, "gp.test confirmation booking-cancel": 1,
    }, checked
