"""Spine fixtures: an in-process spine over SQLite, or over SQLite and PostgreSQL both."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from party_common.booking import BROKER, SPINE, BookingFacts, booking_message
from party_common.identifiers import UBRN_SYSTEM, nhs_number_from_index
from party_common.population import synthetic_population
from spine_mock.app import create_app
from spine_mock.settings import Settings
from tests.inprocess import FHIR_HEADERS, client_for

POPULATION = 200
SEED = 7
# A well-formed test-range number far beyond the seeded population.
UNKNOWN_NHS = next(n for n in (nhs_number_from_index(i) for i in range(900_000, 900_100)) if n)


def first_issue(response) -> dict:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


@dataclass
class RunningSpine:
    http: httpx.AsyncClient
    app: FastAPI

    @property
    def db(self):
        return self.app.state.db


def spine_settings(database_url: str, **overrides) -> Settings:
    values = {"database_url": database_url, "population_size": POPULATION, "population_seed": SEED,
              "log_level": "WARNING", **overrides}
    return Settings(**values)


@pytest.fixture(scope="session")
def population():
    return synthetic_population(SEED, POPULATION)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request) -> str:
    """Runs a test once over SQLite and once over PostgreSQL (skipped when no server is set)."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
async def spine(sqlite_url):
    app = create_app(spine_settings(sqlite_url))
    async with client_for(app) as client:
        yield RunningSpine(client, app)


@pytest.fixture
async def spine_any_db(any_database_url):
    app = create_app(spine_settings(any_database_url))
    async with client_for(app) as client:
        yield RunningSpine(client, app)


def booking_facts(ubrn: str | None, nhs_number: str, **overrides) -> BookingFacts:
    values = {
        "ubrn": ubrn, "nhs_number": nhs_number, "trust_ods": "RT1", "gp_ods": "Y90001",
        "service_id": "RT1-CARD-1", "slot_id": "RT1-CARD-1-202701041000",
        "start": "2027-01-04T10:00:00+00:00", "end": "2027-01-04T10:15:00+00:00",
        "status": "booked", "specialty": "cardiology", "referral_id": "ref-1", **overrides,
    }
    return BookingFacts(**values)


def booking_bundle(event: str, facts: BookingFacts, **kwargs) -> dict:
    """A booking message as the broker reports one to the spine."""
    return booking_message(event, facts, sender=BROKER, receiver=SPINE, destination=SPINE.endpoint, **kwargs)


def parameters(*items: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": list(items)}


def nhs_param(value: str) -> dict:
    return {"name": "nhsNumber", "valueString": value}


async def post_allocate(http, body: dict):
    return await http.post("/$allocate-ubrn", json=body, headers=FHIR_HEADERS)


def ubrn_of(response) -> str:
    body = response.json()
    assert body["resourceType"] == "Parameters"
    [param] = body["parameter"]
    assert param["name"] == "ubrn"
    assert param["valueIdentifier"]["system"] == UBRN_SYSTEM
    return param["valueIdentifier"]["value"]
