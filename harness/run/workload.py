"""Drives GP bookings through the broker, the way practices would, and times each one."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import httpx

from party_common.fhir_json import FHIR_JSON
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, UBRN_SYSTEM

from harness.cli.errors import TestbedError
from harness.stack.endpoints import StackUrls

HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
_REQUEST_NS = uuid.UUID("3d6f0c8e-5b1a-4e7f-8c2d-9a4b6e1f0a77")
_CORRELATION_NS = uuid.UUID("8a3c2e71-0d4b-4c6f-b1e9-5f7a9d2c4e18")
MAX_BOOK_ATTEMPTS = 5   # $book attempts per booking (a slot taken meanwhile: look further on)


def request_id(seed: int, salt: str, key: int | str, attempt: int) -> str:
    """The practice's request id (and so its message's Bundle.id) for one attempt at booking `index`."""
    return str(uuid.uuid5(_REQUEST_NS, f"{seed}:{salt}:{key}:{attempt}"))


def correlation_id(run_id: str, key: str) -> str:
    """The X-Correlation-ID of one booking's calls (or of its cancel or rebook): a UUID, as BaRS has
    it, made from the run folder's name and the booking, and written in bookings.jsonl to grep for."""
    return str(uuid.uuid5(_CORRELATION_NS, f"{run_id}-{key}"))


def referral_request(nhs_number: str, specialty: str) -> dict:
    """The ServiceRequest a practice records before it books: a referral of the patient to a specialty."""
    return {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}},
            "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty}]}}


# pacer(count, book) starts book(i) for every i, each when it is due.
Pacer = Callable[[int, Callable[[int], Awaitable[None]]], Awaitable[None]]


class WorkloadError(TestbedError, RuntimeError):
    """The workload could not start (no practices, no services...): one line for the user."""


@dataclass
class BookingResult:
    index: int
    practice: str
    nhs_number: str
    service: str
    outcome: str            # accepted | refused | unavailable | error
    status: int | None
    ubrn: str | None
    latency_ms: float
    attempts: int
    detail: str | None = None
    referral_id: str | None = None
    correlation_id: str | None = None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class Population:
    practices: dict[str, list[str]]      # practice ODS -> NHS numbers registered there
    services: list[tuple[str, str]]      # (service id, specialty)
    calendar_start: datetime


_ALL = 100_000   # no stack lists more practices or services than this


async def _all_pages(client: httpx.AsyncClient, url: str, params: dict, limit: int) -> list[dict]:
    out: list[dict] = []
    next_url: str | None = url
    first = True
    while next_url and len(out) < limit:
        r = await client.get(next_url, params=params if first else None)
        r.raise_for_status()
        bundle = r.json()
        out += [e["resource"] for e in bundle.get("entry", [])]
        next_url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
        first = False
    return out[:limit]


async def discover(client: httpx.AsyncClient, urls: StackUrls, patients_per_practice: int = 500,
                   only_practices: list[str] | None = None, only_trusts: list[str] | None = None) -> Population:
    """The practices (and their patients) and services the stack offers, narrowed to those named."""
    try:
        # Every page: a stack with more practices or services than one page holds is read to its end.
        orgs = await _all_pages(client, f"{urls.gp}/Organization", {"_count": 100}, _ALL)
        practices: dict[str, list[str]] = {}
        for org in orgs:
            if org.get("resourceType") != "Organization":
                continue
            ods = org["identifier"][0]["value"]
            if only_practices is not None and ods not in only_practices:
                continue
            patients = await _all_pages(client, f"{urls.gp}/{ods}/Patient", {"_count": 500}, patients_per_practice)
            numbers = [i["value"] for p in patients for i in p.get("identifier", []) if i.get("system") == NHS_NUMBER_SYSTEM]
            if numbers:
                practices[ods] = numbers
        listed = await _all_pages(client, f"{urls.broker}/HealthcareService", {"_count": 100}, _ALL)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise WorkloadError(f"could not read practices and services from the stack: {exc}") from exc
    services = []
    for res in listed:
        if res.get("resourceType") != "HealthcareService":
            continue
        specialty = next((c["code"] for cc in res.get("type", []) for c in cc.get("coding", [])
                          if c.get("system") == SPECIALTY_SYSTEM), None)
        trust = ((res.get("providedBy") or {}).get("identifier") or {}).get("value")
        if specialty and (only_trusts is None or trust in only_trusts):
            services.append((res["id"], specialty))
    if not practices:
        raise WorkloadError("the GP system has no practice with registered patients")
    if not services:
        raise WorkloadError("the broker's directory lists no services")
    services.sort()
    first = (await client.get(f"{urls.broker}/Slot", params={"service": services[0][0], "_count": 1})).json()
    try:
        start = first["entry"][0]["resource"]["start"]
        calendar_start = datetime.fromisoformat(start.replace("Z", "+00:00")).replace(hour=0, minute=0)
    except (KeyError, IndexError, ValueError):
        calendar_start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return Population(practices, services, calendar_start)


class Workload:
    def __init__(self, urls: StackUrls, population: Population, *, seed: int, bookings: int,
                 concurrency: int = 8, horizon_days: int = 150, run_id: str = "run", id_salt: str = ""):
        self.urls = urls
        self.population = population
        self.seed = seed
        self.bookings = bookings
        self.concurrency = concurrency
        self.horizon_days = horizon_days
        self.run_id = run_id
        # Request ids derive from seed, index and this salt (the broker's journal position at the
        # start): the same scenario on a fresh stack sends the same ids, a rerun on a used one does not.
        self.id_salt = id_salt

    def plan(self, index: int) -> tuple[str, str, str, str, datetime]:
        """What booking `index` asks for; a function of the seed alone, so a run can be repeated."""
        rng = random.Random(f"{self.seed}:{index}")
        practices = sorted(self.population.practices)
        practice = rng.choice(practices)
        nhs = rng.choice(self.population.practices[practice])
        service, specialty = rng.choice(self.population.services)
        earliest = self.population.calendar_start + timedelta(days=rng.randrange(self.horizon_days),
                                                              minutes=15 * rng.randrange(32))
        return practice, nhs, service, specialty, earliest

    async def book_one(self, client: httpx.AsyncClient, index: int) -> BookingResult:
        practice, nhs, service, specialty, earliest = self.plan(index)
        gp = f"{self.urls.gp}/{practice}"
        correlation = correlation_id(self.run_id, f"{index:07d}")
        headers = {**HEADERS, "X-Correlation-ID": correlation}
        started = time.perf_counter()
        attempts = 0
        status = None
        try:
            r = await client.post(f"{gp}/ServiceRequest", json=referral_request(nhs, specialty), headers=headers)
            status = r.status_code
            if r.status_code != 201:
                return self._result(index, practice, nhs, service, r, started, attempts, None, None, correlation)
            referral_id = r.json()["id"]
            r, attempts = await self.request_booking(client, gp, referral_id, service, earliest, headers,
                                                     key=str(index))
            ubrn = _ubrn_of(r) if r.status_code == 200 else None
            return self._result(index, practice, nhs, service, r, started, attempts, ubrn, referral_id,
                                correlation)
        except httpx.HTTPError as exc:
            return BookingResult(index, practice, nhs, service, "error", status, None,
                                 (time.perf_counter() - started) * 1000, attempts, f"{type(exc).__name__}: {exc}",
                                 correlation_id=correlation)

    async def request_booking(self, client: httpx.AsyncClient, gp: str, referral_id: str, service: str,
                              earliest: datetime, headers: dict, key: str) -> tuple[httpx.Response, int]:
        """`$book` on a referral, looking an hour further on after each slot lost to another practice."""
        attempts = 0
        while True:
            attempts += 1
            params = {"resourceType": "Parameters", "parameter": [
                {"name": "requestId", "valueString": request_id(self.seed, self.id_salt, key, attempts)},
                {"name": "service", "valueString": service},
                {"name": "start", "valueDateTime": earliest.isoformat().replace("+00:00", "Z")},
            ]}
            r = await client.post(f"{gp}/ServiceRequest/{referral_id}/$book", json=params, headers=headers)
            if r.status_code != 409 or attempts >= MAX_BOOK_ATTEMPTS:
                return r, attempts
            # Another practice took the slot between search and booking: look further on.
            earliest += timedelta(hours=1)

    def _result(self, index, practice, nhs, service, r: httpx.Response, started, attempts, ubrn,
                referral_id=None, correlation=None):
        latency = (time.perf_counter() - started) * 1000
        if r.status_code == 200 and ubrn:
            outcome = "accepted"
        elif r.status_code >= 500:
            outcome = "unavailable"
        else:
            outcome = "refused"
        detail = None
        if outcome != "accepted":
            try:
                detail = (r.json().get("issue") or [{}])[0].get("diagnostics")
            except ValueError:
                detail = r.text[:200]
        return BookingResult(index, practice, nhs, service, outcome, r.status_code, ubrn, round(latency, 3),
                             attempts, detail, referral_id, correlation)

    async def run(self, client: httpx.AsyncClient,
                  progress: Callable[[BookingResult], None] | None = None,
                  pacer: Pacer | None = None) -> list[BookingResult]:
        """Books every index; `pacer` decides when each starts (harness/run/pacing.py), else as fast as
        `concurrency` allows."""
        results: list[BookingResult | None] = [None] * self.bookings
        self.done: list[BookingResult] = []  # answered so far, kept if the run fails part-way

        async def book(i: int) -> None:
            res = await self.book_one(client, i)
            results[i] = res
            self.done.append(res)
            if progress:
                progress(res)

        if pacer is not None:
            await pacer(self.bookings, book)
            return [r for r in results if r is not None]

        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(self.bookings):
            queue.put_nowait(i)

        async def worker():
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await book(i)

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
        return [r for r in results if r is not None]


def _ubrn_of(r: httpx.Response) -> str | None:
    try:
        bundle = r.json()
    except ValueError:
        return None
    for entry in bundle.get("entry", []):
        res = entry.get("resource", {})
        if res.get("resourceType") == "Appointment":
            for ident in res.get("identifier", []):
                if ident.get("system") == UBRN_SYSTEM:
                    return ident.get("value")
    return None
