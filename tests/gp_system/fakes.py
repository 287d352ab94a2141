"""Fake spine and broker for the GP system's tests: small FastAPI apps with switchable faults."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from party_common.booking import (
    BookingFacts,
    appointment_resource,
    booking_message,
    practice_org,
    read_booking,
    trust_org,
)
from party_common.fhir_json import FHIR_JSON
from party_common.messaging import read_message
from party_common.responses import response_bundle
from party_common.outcome import Issue, operation_outcome

SPINE = "http://spine.test"
BROKER = "http://broker.test"
GP = "http://gp.test"


def booking_of(bundle: dict) -> BookingFacts:
    """The booking a message (request, answer or confirmation) states."""
    return read_booking(read_message(bundle)).facts


def fhir(body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def outcome(status: int, code: str, text: str) -> Response:
    return fhir(operation_outcome([Issue(code, text)]), status)


class Switchable(httpx.AsyncBaseTransport):
    """An in-process app that can be made unreachable or slow to answer."""

    def __init__(self, app: FastAPI):
        self.inner = httpx.ASGITransport(app=app)
        # None, "down", "timeout" (nothing reaches the app) or "lost" (the app acts, its answer is lost)
        self.fault: str | None = None
        # When set, the fault hits only requests to this path; others get through.
        self.only_path: str | None = None

    def fail_messages(self, fault: str | None) -> None:
        """The fault for `$process-message` only: a slot look-up before the message still gets through."""
        self.fault, self.only_path = fault, "/$process-message"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.only_path is not None and request.url.path != self.only_path:
            return await self.inner.handle_async_request(request)
        if self.fault == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        response = await self.inner.handle_async_request(request)
        if self.fault == "lost":
            raise httpx.ReadTimeout("timed out waiting for the answer", request=request)
        return response


class FakeSpine:
    def __init__(self, known: set[str]):
        self.known = set(known)
        self.status_override: int | None = None
        self.lookups: list[str] = []
        self.headers: list[httpx.Headers] = []
        app = FastAPI()

        @app.get("/Patient/{nhs}")
        async def patient(nhs: str, request: Request):
            self.lookups.append(nhs)
            self.headers.append(httpx.Headers(request.headers.raw))
            if self.status_override:
                return outcome(self.status_override, "exception", "spine failure")
            if nhs not in self.known:
                return outcome(404, "not-found", f"no patient {nhs}")
            return fhir({"resourceType": "Patient", "id": nhs})

        self.transport = Switchable(app)


@dataclass
class FakeBroker:
    """Answers booking-request with a fresh UBRN and booking-cancel with the cancellation.

    `refuse` makes it answer every message with that HTTP status and an OperationOutcome;
    `confirm_first` makes it send the practice its confirmation before answering the request.
    """

    slots: list[dict] = field(default_factory=list)
    refuse: tuple[int, str] | None = None
    answer_code: str = "ok"
    confirm_first: bool = False
    trust_ods: str = "RT1"
    received: list[dict] = field(default_factory=list)
    slot_queries: list[dict] = field(default_factory=list)
    confirmations: list[tuple[int, dict]] = field(default_factory=list)
    gp: httpx.AsyncClient | None = None
    next_ubrn: int = 100000000001

    def __post_init__(self):
        app = FastAPI()

        @app.get("/Slot")
        async def slots(request: Request):
            q = dict(request.query_params)
            self.slot_queries.append(q)
            start = q.get("start", "ge")[2:]
            found = [s for s in self.slots
                     if s["status"] == q.get("status", "free") and s["start"] >= start
                     and (q.get("service") is None or s["schedule"]["reference"] == f"Schedule/{q['service']}")
                     and (q.get("specialty") is None or s["_specialty"] == q["specialty"])]
            found.sort(key=lambda s: s["start"])
            found = found[: int(q.get("_count", 10))]
            entries = [{"resource": {k: v for k, v in s.items() if not k.startswith("_")}} for s in found]
            return fhir({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})

        @app.post("/$process-message")
        async def process(request: Request):
            bundle = orjson.loads(await request.body())
            self.received.append(bundle)
            if self.refuse:
                return outcome(self.refuse[0], self.refuse[1], "refused by the fake broker")
            msg = read_message(bundle)
            facts = read_booking(msg).facts
            if msg.event == "booking-request":
                facts = replace(facts, ubrn=f"{self.next_ubrn:012d}", trust_ods=self.trust_ods, status="booked",
                                start=facts.start or "2030-01-07T09:00:00Z", end=facts.end or "2030-01-07T09:15:00Z")
                self.next_ubrn += 1
            else:
                facts = replace(facts, status="cancelled")
            if self.confirm_first:
                await self.confirm(bundle, facts)
            # As the broker answers: in the trust's name, the booking as the focus.
            return fhir(response_bundle(msg, self.answer_code, [appointment_resource(facts)],
                                        responder=trust_org(facts.trust_ods or self.trust_ods)))

        self.transport = Switchable(app)

    async def confirm(self, request_bundle: dict, facts: BookingFacts, code: str = "ok") -> tuple[int, dict]:
        """Sends the practice a confirmation of `request_bundle`, as the real broker does: the booking
        from the trust to the practice, MessageHeader.response naming the request."""
        msg = read_message(request_bundle)
        practice = practice_org(facts.gp_ods)
        confirmation = booking_message(msg.event, facts, sender=trust_org(facts.trust_ods or self.trust_ods),
                                       receiver=practice, destination=practice.endpoint,
                                       response={"identifier": msg.bundle_id, "code": code})
        resp = await self.gp.post(f"/{facts.gp_ods}/$process-message", content=orjson.dumps(confirmation),
                                  headers={"Content-Type": FHIR_JSON})
        self.confirmations.append((resp.status_code, confirmation))
        return resp.status_code, resp.json()


def slot(service: str, start: str, end: str, specialty: str, status: str = "free") -> dict:
    slot_id = f"{service}-{start[:16].replace('-', '').replace('T', '').replace(':', '')}"
    return {"resourceType": "Slot", "id": slot_id, "schedule": {"reference": f"Schedule/{service}"},
            "status": status, "start": start, "end": end, "_specialty": specialty}
