"""The GP system in-process, its spine and broker faked, reached over a RoutingTransport."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gp_system.app import create_app
from gp_system.settings import Settings
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM
from party_common.population import SyntheticPatient, synthetic_population
from tests.inprocess import client_for

from .fakes import BROKER, GP, SPINE, FakeBroker, FakeSpine, slot

POPULATION_SIZE = 120
PRACTICE = "Y90001"
OTHER_PRACTICE = "Y90002"


@dataclass
class Stack:
    client: httpx.AsyncClient
    spine: FakeSpine
    broker: FakeBroker
    app: FastAPI
    population: list[SyntheticPatient]

    def patient_at(self, ods: str, nth: int = 0) -> str:
        return [p.nhs_number for p in self.population if p.gp_ods == ods][nth]

    async def post(self, path: str, body: dict | None = None, headers: dict | None = None) -> httpx.Response:
        content = orjson.dumps(body) if body is not None else b""
        return await self.client.post(path, content=content, headers={"Content-Type": FHIR_JSON, **(headers or {})})

    async def refer(self, nhs: str | None = None, ods: str = PRACTICE, specialty: str = "cardiology") -> dict:
        resp = await self.post(f"/{ods}/ServiceRequest", service_request(nhs or self.patient_at(ods), specialty))
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def book(self, referral_id: str, ods: str = PRACTICE, **params) -> httpx.Response:
        return await self.post(f"/{ods}/ServiceRequest/{referral_id}/$book", parameters(**params))

    async def appointments(self, ods: str = PRACTICE, **params) -> list[dict]:
        resp = await self.client.get(f"/{ods}/Appointment", params=params)
        assert resp.status_code == 200, resp.text
        return [e["resource"] for e in resp.json().get("entry", [])]


def service_request(nhs: str, specialty: str | None = "cardiology") -> dict:
    body = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
        "note": [{"text": "chest pain on exertion"}],
    }
    if specialty:
        body["code"] = {"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty}]}
    return body


def parameters(**params) -> dict:
    kinds = {"slot": "valueString", "service": "valueString", "start": "valueDateTime"}
    return {"resourceType": "Parameters",
            "parameter": [{"name": name, kinds[name]: value} for name, value in params.items()]}


DEFAULT_SLOTS = [
    slot("svc-cardio-rt1", "2030-01-07T09:00:00Z", "2030-01-07T09:15:00Z", "cardiology"),
    slot("svc-cardio-rt1", "2030-01-07T09:15:00Z", "2030-01-07T09:30:00Z", "cardiology"),
    slot("svc-cardio-rt2", "2030-01-06T14:00:00Z", "2030-01-06T14:15:00Z", "cardiology"),
    slot("svc-derm-rt1", "2030-01-05T10:00:00Z", "2030-01-05T10:20:00Z", "dermatology"),
]


def make_stack_parts(database_url: str, **overrides):
    population = synthetic_population(1, POPULATION_SIZE)
    spine = FakeSpine({p.nhs_number for p in population})
    broker = FakeBroker(slots=[dict(s) for s in DEFAULT_SLOTS])   # a test may change its own
    transport = RoutingTransport({SPINE: spine.transport, BROKER: broker.transport})
    settings = Settings(database_url=database_url, spine_url=SPINE, broker_url=BROKER, public_url=GP,
                        population_seed=1, population_size=POPULATION_SIZE, http_timeout=5.0, **overrides)
    return create_app(settings, transport), spine, broker, population


@pytest.fixture
def stack_settings() -> dict:
    """Overridden by tests that need other GP settings."""
    return {}


@pytest.fixture
def database_url(sqlite_url) -> str:
    """Overridden by test modules that run on PostgreSQL as well."""
    return sqlite_url


@pytest.fixture
async def stack(database_url, stack_settings):
    app, spine, broker, population = make_stack_parts(database_url, **stack_settings)
    async with client_for(app, base_url=GP) as client:
        broker.gp = client
        yield Stack(client, spine, broker, app, population)
