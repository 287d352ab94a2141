"""Drives bookings straight into the broker, as a GP system would, each on a slot of its own.

Cheaper than the full workload (no referral, no slot search), and free of slot races, so the
acceptance tests can run thousands of bookings and count exactly.
"""

from __future__ import annotations

import asyncio
import random
import uuid

from harness.run.runner import read_journal
from party_common.booking import BookingFacts, practice_message
from party_common.identifiers import UBRN_SYSTEM

FHIR = {"Content-Type": "application/fhir+json"}


async def slot_pool(client, urls, per_service: int = 100) -> list[tuple[str, dict]]:
    services = (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"]
    pool = []
    for entry in sorted(services, key=lambda e: e["resource"]["id"]):
        sid = entry["resource"]["id"]
        slots = (await client.get(f"{urls.broker}/Slot", params={"service": sid, "_count": per_service})).json()
        pool += [(sid, e["resource"]) for e in slots.get("entry", [])]
    return pool


async def patients(client, urls) -> list[tuple[str, str]]:
    out = []
    for org in (await client.get(f"{urls.gp}/Organization")).json()["entry"]:
        ods = org["resource"]["identifier"][0]["value"]
        page = (await client.get(f"{urls.gp}/{ods}/Patient", params={"_count": 200})).json()
        out += [(ods, p["resource"]["identifier"][0]["value"]) for p in page.get("entry", [])]
    return out


def request_message(seed: int, index: int, practice: str, nhs: str, service: str, slot: dict, broker: str) -> dict:
    facts = BookingFacts(ubrn=None, nhs_number=nhs, trust_ods=None, gp_ods=practice, service_id=service,
                         slot_id=slot["id"], start=slot["start"], end=slot["end"])
    origin = uuid.uuid5(uuid.NAMESPACE_URL, f"direct:{seed}:{index}")
    return practice_message("booking-request", facts, bundle_id=str(origin), header_id=str(uuid.uuid5(origin, "header")))


async def drive(client, urls, *, bookings: int, seed: int, concurrency: int = 8) -> list[tuple[int, int, str | None]]:
    """Returns (index, HTTP status, UBRN) per booking."""
    pool = await slot_pool(client, urls, per_service=max(10, bookings // 20 + 5))
    people = await patients(client, urls)
    assert len(pool) >= bookings, "not enough distinct slots for the test"
    rng = random.Random(seed)
    rng.shuffle(pool)
    results: list[tuple[int, int, str | None]] = []
    queue = list(range(bookings))

    async def worker():
        while queue:
            i = queue.pop(0)
            practice, nhs = people[i % len(people)]
            service, slot = pool[i]
            msg = request_message(seed, i, practice, nhs, service, slot, urls.broker)
            r = await client.post(f"{urls.broker}/$process-message", json=msg, headers=FHIR)
            results.append((i, r.status_code, ubrn_in(r.json()) if r.status_code == 200 else None))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(results)


def ubrn_in(bundle: dict) -> str | None:
    for e in bundle.get("entry", []):
        for ident in e.get("resource", {}).get("identifier", []) or []:
            if ident.get("system") == UBRN_SYSTEM:
                return ident["value"]
    return None


async def ubrns_at(client, url: str) -> list[str]:
    """Every UBRN in a paged Appointment listing (repeats kept: duplicates matter)."""
    found = []
    next_url = f"{url}?_count=1000"
    while next_url:
        bundle = (await client.get(next_url)).json()
        for e in bundle.get("entry", []):
            for ident in e["resource"].get("identifier", []):
                if ident["system"] == UBRN_SYSTEM and e["resource"].get("status") == "booked":
                    found.append(ident["value"])
        next_url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return found


async def pas_ubrns(client, urls) -> list[str]:
    out = []
    for org in (await client.get(f"{urls.pas}/Organization")).json()["entry"]:
        if org["resource"]["resourceType"] != "Organization":
            continue
        ods = org["resource"]["identifier"][0]["value"]
        out += await ubrns_at(client, f"{urls.pas}/{ods}/Appointment")
    return out


async def journal(client, urls) -> list[dict]:
    return await read_journal(client, urls, 0)


async def wait_drained(client, urls, timeout: float = 60) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = (await client.get(f"{urls.broker}/outbox")).json()
        if state["depth"] == 0 and state["held"] == 0:
            return state
        assert loop.time() < deadline, f"outbox did not drain: {state}"
        await asyncio.sleep(0.05)
