"""What each consumer relies on from each provider, as Pact interactions.

The request is an example message from contracts/examples/ (or a deliberately bad one); the answer
holds the least the consumer relies on, with Pact matchers for what varies between runs. Each
interaction also says how the consumer uses the answer: its own code where it has a function for
the call (the GP system's slot search and booking), else the contract's message profile.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pact import match

from party_common.identifiers import MESSAGE_EVENT_SYSTEM, UBRN_SYSTEM

from .data import example
from .rules import violations

# Pact's libraries report usage over the network unless told not to; the testbed runs offline.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

FHIR = "application/fhir+json"
BROKER, PAS, SPINE, GP = "booking_broker", "trust_pas", "spine_mock", "gp_system"
PAIRS = [(BROKER, PAS), (BROKER, SPINE), (BROKER, GP), (GP, BROKER)]
# Which `testbed contract verify --provider` name each pacticipant is.
PROVIDER_OF = {PAS: "pas", SPINE: "spine", GP: "gp", BROKER: "broker"}

Exercise = Callable[[httpx.AsyncClient, str, "Interaction"], Awaitable[None]]


@dataclass
class Interaction:
    description: str
    method: str
    path: str
    status: int
    response: Any
    body: dict | None = None
    query: dict[str, str] | None = None
    state: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    exercise: Exercise | None = None


class ConsumerExpectationFailed(AssertionError):
    """The consumer could not use the answer it specified: the pact would describe nothing real."""


# -- what the consumers rely on in an answer --------------------------------------------------------

def _response_message(event: str, request_id: str, resources: list[dict]) -> dict:
    """A response message as the `response` profile of rules/messages.yaml has it; what varies, matched."""
    focus = match.regex("urn:uuid:0b5f7c1e-2f55-4d8e-9a57-6b1f3c2d4e11", regex=r"urn:uuid:[0-9a-f-]{36}")
    header = {"resourceType": "MessageHeader", "id": match.str("0b5f7c1e-2f55-4d8e-9a57-6b1f3c2d4e12"),
              "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": event},
              "source": {"endpoint": match.str("http://receiver.example.nhs.uk")},
              "destination": [{"endpoint": match.str("http://sender.example.nhs.uk")}],
              "focus": [{"reference": focus}],
              "response": {"identifier": request_id, "code": "ok"}}
    return {"resourceType": "Bundle", "id": match.str("0b5f7c1e-2f55-4d8e-9a57-6b1f3c2d4e13"), "type": "message",
            "timestamp": match.str("2026-11-27T09:00:00.000Z"),
            "entry": [{"resource": header}, *({"resource": r} for r in resources)]}


def _booked(status: str, ubrn: Any, slot_id: str) -> dict:
    return {"resourceType": "Appointment", "status": status,
            "identifier": [{"system": UBRN_SYSTEM, "value": ubrn}], "slot": [{"reference": f"Slot/{slot_id}"}]}


def _outcome(code: Any, with_expression: bool = False) -> dict:
    issue: dict = {"severity": "error", "code": code, "diagnostics": match.str("what was wrong")}
    if with_expression:
        issue["expression"] = match.each_like("Bundle.entry")
    return {"resourceType": "OperationOutcome", "issue": match.each_like(issue)}


def _slot_of(message: dict) -> str:
    return message["entry"][1]["resource"]["slot"][0]["reference"].split("/", 1)[1]


def _ubrn_of(message: dict) -> str:
    return message["entry"][1]["resource"]["identifier"][0]["value"]


UBRN = match.regex("990000000009", regex=r"\d{12}")


# -- how each consumer uses the answer (its own code where it has a function for the call) ----------

async def _post(client: httpx.AsyncClient, url: str, i: Interaction) -> httpx.Response:
    return await client.request(i.method, url + i.path, params=i.query,
                                content=orjson.dumps(i.body) if i.body is not None else None,
                                headers={"Content-Type": FHIR, "Accept": FHIR})


def _expect(profile: str, **variables: Any) -> Exercise:
    """The consumer reads the answer as the contract's profile says it may (rules/messages.yaml)."""
    async def run(client: httpx.AsyncClient, url: str, i: Interaction) -> None:
        r = await _post(client, url, i)
        if r.status_code != i.status:
            raise ConsumerExpectationFailed(f"{i.description}: HTTP {r.status_code}")
        problems = violations(r.json(), profile, **variables)
        if problems:
            raise ConsumerExpectationFailed(f"{i.description}: {problems}")
    return run


async def _gp_books(client: httpx.AsyncClient, url: str, i: Interaction) -> None:
    from gp_system.outbound import send_to_broker

    answer, _raw = await send_to_broker(client, url, i.body)
    problems = violations(answer, "booking-response", event="booking-request", request_id=i.body["id"], code="ok",
                          status="booked", slot_id=_slot_of(i.body))
    if problems:
        raise ConsumerExpectationFailed(f"{i.description}: {problems}")


async def _gp_searches(client: httpx.AsyncClient, url: str, i: Interaction) -> None:
    from gp_system.outbound import first_free_slot

    found = await first_free_slot(client, url, start=i.query["start"][2:], specialty=None, service=i.query["service"])
    if found is None or not found.slot_id or not found.service_id:
        raise ConsumerExpectationFailed(f"{i.description}: the GP system found no slot in {found}")


# -- the interactions -------------------------------------------------------------------------------

def interactions(consumer: str, provider: str) -> list[Interaction]:
    if (consumer, provider) == (BROKER, PAS):
        book = example("broker-to-pas.booking-request")
        cancel = example("broker-to-pas.booking-cancel")
        taken = example("broker-to-pas.booking-request.slot-taken")
        return [
            Interaction("a booking-request for a free slot", "POST", "/RT1/$process-message", 200,
                        _response_message("booking-request", book["id"],
                                          [_booked("booked", _ubrn_of(book), _slot_of(book))]),
                        body=book, state="the slot is free", params={"ods": "RT1", "slot": _slot_of(book)},
                        exercise=_expect("booking-response", event="booking-request", request_id=book["id"],
                                         code="ok", status="booked", slot_id=_slot_of(book))),
            Interaction("the same booking-request again (same Bundle.id)", "POST", "/RT1/$process-message", 200,
                        _response_message("booking-request", book["id"],
                                          [_booked("booked", _ubrn_of(book), _slot_of(book))]),
                        body=book, state="the message was already processed",
                        params={"ods": "RT1", "example": "broker-to-pas.booking-request"},
                        exercise=_expect("response", event="booking-request", request_id=book["id"], code="ok")),
            Interaction("a booking-cancel for a booked UBRN", "POST", "/RT1/$process-message", 200,
                        _response_message("booking-cancel", cancel["id"],
                                          [_booked("cancelled", _ubrn_of(cancel), _slot_of(cancel))]),
                        body=cancel, state="the UBRN is booked",
                        params={"ods": "RT1", "example": "broker-to-pas.booking-cancel"},
                        exercise=_expect("booking-response", event="booking-cancel", request_id=cancel["id"],
                                         code="ok", status="cancelled", slot_id=_slot_of(cancel))),
            Interaction("a booking-request for a slot booked under another UBRN", "POST", "/RT1/$process-message",
                        409, _outcome("conflict"), body=taken, state="the slot is booked under another UBRN",
                        params={"ods": "RT1", "example": "broker-to-pas.booking-request.slot-taken"},
                        exercise=_expect("outcome")),
            Interaction("a Bundle that is not valid FHIR", "POST", "/RT1/$process-message", 400,
                        _outcome(match.str("value"), with_expression=True),
                        body={"resourceType": "Bundle", "id": "not-valid-fhir", "type": "message", "entry": {}},
                        exercise=_expect("outcome")),
        ]
    if (consumer, provider) == (BROKER, SPINE):
        allocate = example("broker-to-spine.allocate-ubrn")
        report = example("broker-to-spine.booking-report")
        return [
            Interaction("$allocate-ubrn for a known patient", "POST", "/$allocate-ubrn", 200,
                        {"resourceType": "Parameters",
                         "parameter": [{"name": "ubrn", "valueIdentifier": {"system": UBRN_SYSTEM, "value": UBRN}}]},
                        body=allocate, state="the patient is known",
                        params={"nhs_number": allocate["parameter"][0]["valueString"]},
                        exercise=_expect("allocate-ubrn-response")),
            Interaction("$allocate-ubrn for something that is not an NHS number", "POST", "/$allocate-ubrn", 400,
                        _outcome("invalid", with_expression=True),
                        body={"resourceType": "Parameters", "parameter": [{"name": "nhsNumber",
                                                                           "valueString": "1234567890"}]},
                        exercise=_expect("outcome")),
            Interaction("a booking report to the index", "POST", "/$process-message", 200,
                        _response_message("booking-request", report["id"],
                                          [_booked("booked", _ubrn_of(report), _slot_of(report))]),
                        body=report,
                        exercise=_expect("booking-response", event="booking-request", request_id=report["id"],
                                         code="ok", status="booked", slot_id=_slot_of(report))),
        ]
    if (consumer, provider) == (BROKER, GP):
        confirmation = example("broker-to-gp.confirmation")
        return [
            Interaction("a confirmation of a practice's booking", "POST", "/Y90001/$process-message", 200,
                        _response_message("booking-request", confirmation["id"], [{"resourceType": "Appointment"}]),
                        body=confirmation,
                        exercise=_expect("response", event="booking-request", request_id=confirmation["id"],
                                         code="ok")),
        ]
    if (consumer, provider) == (GP, BROKER):
        book = example("gp-to-broker.booking-request")
        slot = {"resourceType": "Slot", "id": match.str(_slot_of(book)), "status": "free",
                "start": match.str("2027-03-01T08:00:00Z"),
                "schedule": {"reference": match.regex("Schedule/rt2-rt201-cardiology", regex=r"Schedule/.+")}}
        return [
            Interaction("a search for the first free slot of a service", "GET", "/Slot", 200,
                        {"resourceType": "Bundle", "type": "searchset", "entry": match.each_like({"resource": slot})},
                        query={"status": "free", "start": "ge2027-03-01T08:00:00Z", "_count": "1",
                               "service": "rt2-rt201-cardiology"},
                        state="the service has free slots", params={"service": "rt2-rt201-cardiology"},
                        exercise=_gp_searches),
            Interaction("a practice's booking-request", "POST", "/$process-message", 200,
                        _response_message("booking-request", book["id"], [_booked("booked", UBRN, _slot_of(book))]),
                        body=book, state="the slot is free", params={"ods": "RT2", "slot": _slot_of(book)},
                        exercise=_gp_books),
        ]
    raise KeyError(f"no pact between {consumer} and {provider}")


