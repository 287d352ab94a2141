"""What each consumer relies on from each provider, as Pact interactions.

The request is an example message from contracts/examples/ (or a deliberately bad one); the answer is
the response message the provider gives, as a template: every entry of it is a variant the answer's
`entry` must contain somewhere (Pact's `arrayContains`: no entry order is assumed beyond what the
consumer's own reading checks), with what the consumer relies on exactly (event, response identifier
and code, the Appointment's status and UBRN, the Slot's id, the patient's NHS number, identifier
systems, profiles) as literals and the rest matched by type, references and fullUrls by their
`urn:uuid` form and endpoints as DoS ids. Each interaction also says how the consumer uses the answer:
the contract's message profile (rules/messages.yaml), or, for a practice, what its GP system does with
the answer over HTTP (reading the booking out of the message, taking the first free Slot of a search).
Nothing here imports a party: the contracts talk to parties over HTTP only.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from pact import match

from party_common.booking import SPINE as SPINE_ORG
from party_common.booking import appointment_resource, practice_org, read_booking, trust_org
from party_common.clock import VirtualClock, using_clock
from party_common.identifiers import UBRN_SYSTEM
from party_common.messaging import Org, read_message
from party_common.outcome import FhirError
from party_common.responses import response_bundle

from .data import example
from .example_messages import EXAMPLE_TIME
from .messages import focus_of, slot_of
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

URN = r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
DOS_ENDPOINT = r"https?://fhir\.nhs\.uk/[Ii]d/dos-service-id\|\d+"
UBRN = match.regex("990000000009", regex=r"\d{12}")

# The elements of each entry an answer is held to (others may come and go), and of those the ones whose
# values the consumer relies on exactly; every other value is matched by its type.
KEPT: dict[str, tuple[str, ...]] = {
    "MessageHeader": ("meta", "eventCoding", "destination", "sender", "source", "focus", "response", "definition"),
    "Appointment": ("identifier", "status", "start", "end", "slot", "participant"),
    "Patient": ("identifier", "generalPractitioner"),
    "Slot": ("id", "schedule", "start", "end"),
    "Schedule": ("actor",),
    "HealthcareService": ("id", "identifier", "providedBy"),
    "Organization": ("identifier",),
}
EXACT: dict[str, tuple[str, ...]] = {
    "MessageHeader": ("meta.profile", "eventCoding.system", "eventCoding.code", "response.identifier",
                      "response.code", "definition"),
    "Appointment": ("status", "identifier.system", "identifier.value"),
    "Patient": ("identifier.system", "identifier.value"),
    "Slot": ("id",),
    "HealthcareService": ("identifier.system",),
    "Organization": ("identifier.system",),
}


def _loose(value: Any, rtype: str, path: str, exact: dict[str, Any]) -> Any:
    """`value` (an element of a `rtype` resource at `path`) as a Pact template."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if key == "reference" and isinstance(item, str) and item.startswith("urn:uuid:"):
                out[key] = match.regex(item, regex=URN)
            else:
                out[key] = _loose(item, rtype, sub, exact)
        return out
    if isinstance(value, list):
        return [_loose(item, rtype, path, exact) for item in value]
    if path in exact:
        return exact[path]
    if path == "resourceType" or path in EXACT.get(rtype, ()) or not isinstance(value, str):
        return value
    if path.endswith("endpoint") and value.startswith(("http://fhir.nhs.uk", "https://fhir.nhs.uk")):
        return match.regex(value, regex=DOS_ENDPOINT)
    return match.str(value)


def _template(answer: dict, exact: dict[tuple[str, str], Any] | None = None) -> dict:
    """A response message as what the consumer relies on in it (see KEPT and EXACT): the Bundle's own
    elements, and each of its entries as a variant `entry` must contain. `exact` puts a value, or a
    matcher, at (resource type, path) instead: the UBRN a broker allocates, say."""
    variants = []
    for entry in answer["entry"]:
        resource = entry["resource"]
        rtype = resource["resourceType"]
        kept = {"resourceType": rtype, **{k: v for k, v in resource.items() if k in KEPT.get(rtype, ())}}
        here = {path: v for (t, path), v in (exact or {}).items() if t == rtype}
        variants.append({"fullUrl": match.regex(entry["fullUrl"], regex=URN),
                         "resource": _loose(kept, rtype, "", here)})
    return {"resourceType": "Bundle", "id": match.str(answer["id"]),
            "meta": {"profile": answer["meta"]["profile"], "lastUpdated": match.str(answer["meta"]["lastUpdated"])},
            "type": "message", "timestamp": match.str(answer["timestamp"]),
            "entry": match.array_containing(variants)}


def _answer(request: dict, responder: Org, *, status: str | None = None, ubrn: Any = None,
            trust: str | None = None) -> dict:
    """The `ok` response message to `request`, carrying the booking it states (now `status`, at `trust`
    when the request did not name one), as the provider writes it (party_common's builder, at the
    examples' time); `ubrn` a value or matcher for a UBRN the provider allocates."""
    facts = read_booking(read_message(request)).facts
    facts = replace(facts, status=status or facts.status, ubrn=facts.ubrn or "990000000009",
                    trust_ods=facts.trust_ods or trust)
    with using_clock(VirtualClock(EXAMPLE_TIME)):
        answer = response_bundle(read_message(request), "ok", [appointment_resource(facts)], responder=responder)
    return _template(answer, {("Appointment", "identifier.value"): ubrn} if ubrn is not None else None)


def _outcome(code: Any, with_expression: bool = False) -> dict:
    issue: dict = {"severity": "error", "code": code, "diagnostics": match.str("what was wrong")}
    if with_expression:
        issue["expression"] = match.each_like("Bundle.entry")
    return {"resourceType": "OperationOutcome", "issue": match.each_like(issue)}


def _slot_of(message: dict) -> str:
    return slot_of(message)["id"]


def _ubrn_of(message: dict) -> str:
    return next(i["value"] for i in focus_of(message).get("identifier") or [] if i.get("system") == UBRN_SYSTEM)


# -- how each consumer uses the answer ----------------------------------------------------------------

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


async def _practice_books(client: httpx.AsyncClient, url: str, i: Interaction) -> None:
    """What a practice's GP system does with the broker's answer to its booking-request: reads the
    message, the response code and the booking (UBRN, slot, patient) out of it."""
    if i.body is None:
        raise ConsumerExpectationFailed(f"{i.description}: a booking-request needs its message")
    request = i.body
    r = await _post(client, url, i)
    if r.status_code != 200:
        raise ConsumerExpectationFailed(f"{i.description}: HTTP {r.status_code}")
    answer = r.json()
    problems = violations(answer, "booking-response", event="booking-request", request_id=request["id"], code="ok",
                          status="booked", slot_id=_slot_of(request))
    try:
        booking = read_booking(read_message(answer)).facts
    except FhirError as exc:
        problems.append(f"the booking cannot be read out of the answer: {exc}")
    else:
        if not booking.ubrn or booking.nhs_number != read_booking(read_message(request)).facts.nhs_number:
            problems.append(f"the answer's booking names UBRN {booking.ubrn} for patient {booking.nhs_number}")
    if problems:
        raise ConsumerExpectationFailed(f"{i.description}: {problems}")


async def _practice_searches(client: httpx.AsyncClient, url: str, i: Interaction) -> None:
    """What a practice's GP system takes from a slot search: the first free Slot, with its id and times,
    and its service from the Slot's Schedule (the broker's Schedule ids are its service ids)."""
    r = await _post(client, url, i)
    body = r.json() if r.status_code == 200 else {}
    slot = next((e.get("resource") for e in body.get("entry") or []
                 if (e.get("resource") or {}).get("resourceType") == "Slot"), None) or {}
    schedule = (slot.get("schedule") or {}).get("reference") or ""
    if not (slot.get("id") and slot.get("start") and schedule.startswith("Schedule/")):
        raise ConsumerExpectationFailed(f"{i.description}: no free Slot with id, start and Schedule in {body}")


# -- the interactions -------------------------------------------------------------------------------

def interactions(consumer: str, provider: str) -> list[Interaction]:
    if (consumer, provider) == (BROKER, PAS):
        book = example("broker-to-pas.booking-request")
        cancel = example("broker-to-pas.booking-cancel")
        taken = example("broker-to-pas.booking-request.slot-taken")
        rt1 = trust_org("RT1")
        return [
            Interaction("a booking-request for a free slot", "POST", "/RT1/$process-message", 200,
                        _answer(book, rt1, status="booked"),
                        body=book, state="the slot is free", params={"ods": "RT1", "slot": _slot_of(book)},
                        exercise=_expect("booking-response", event="booking-request", request_id=book["id"],
                                         code="ok", status="booked", slot_id=_slot_of(book))),
            Interaction("the same booking-request again (same Bundle.id)", "POST", "/RT1/$process-message", 200,
                        _answer(book, rt1, status="booked"),
                        body=book, state="the message was already processed",
                        params={"ods": "RT1", "example": "broker-to-pas.booking-request"},
                        exercise=_expect("response", event="booking-request", request_id=book["id"], code="ok")),
            Interaction("a booking-cancel for a booked UBRN", "POST", "/RT1/$process-message", 200,
                        _answer(cancel, rt1, status="cancelled"),
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
                        _answer(report, SPINE_ORG, status="booked"),
                        body=report,
                        exercise=_expect("booking-response", event="booking-request", request_id=report["id"],
                                         code="ok", status="booked", slot_id=_slot_of(report))),
        ]
    if (consumer, provider) == (BROKER, GP):
        confirmation = example("broker-to-gp.confirmation")
        return [
            Interaction("a confirmation of a practice's booking", "POST", "/Y90001/$process-message", 200,
                        _answer(confirmation, practice_org("Y90001"), status="booked"),
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
                        exercise=_practice_searches),
            Interaction("a practice's booking-request", "POST", "/$process-message", 200,
                        _answer(book, trust_org("RT2"), status="booked", ubrn=UBRN, trust="RT2"),
                        body=book, state="the slot is free", params={"ods": "RT2", "slot": _slot_of(book)},
                        exercise=_practice_books),
        ]
    raise KeyError(f"no pact between {consumer} and {provider}")
