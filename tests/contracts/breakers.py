"""Deliberately broken providers: our real parties behind an ASGI wrapper that changes one thing.

Each breaker is a named mutation of an answer (status, headers, body), chosen by the request that
got it. Wrapped around a real party, it makes a provider that breaks one promise of its contract,
so a test can show the check guarding that promise fails when it is broken.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import orjson


@dataclass
class Exchange:
    method: str
    path: str
    request: bytes
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def request_json(self):
        try:
            return orjson.loads(self.request)
        except orjson.JSONDecodeError:
            return None

    def json(self):
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def set_json(self, doc) -> None:
        self.body = orjson.dumps(doc)


Mutation = Callable[[Exchange], None]


class Broken:
    """An ASGI app: `app`, with `mutate` applied to every answer before it leaves."""

    def __init__(self, app, mutate: Mutation):
        self.app = app
        self.mutate = mutate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": request, "more_body": False}
            return await receive()

        start: dict = {}
        body: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        ex = Exchange(scope["method"], scope["path"], request, start["status"], list(start.get("headers", [])),
                      b"".join(body))
        self.mutate(ex)
        headers = [(k, v) for k, v in ex.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(ex.body)).encode()))
        await send({"type": "http.response.start", "status": ex.status, "headers": headers})
        await send({"type": "http.response.body", "body": ex.body})


# -- mutations --------------------------------------------------------------------------------------

def status_swap(old: int, new: int) -> Mutation:
    def mutate(ex: Exchange) -> None:
        if ex.status == old:
            ex.status = new
    return mutate


def drop_expressions(ex: Exchange) -> None:
    doc = ex.json()
    if ex.status >= 400 and isinstance(doc, dict):
        for issue in doc.get("issue") or []:
            issue.pop("expression", None)
        ex.set_json(doc)


def on(method: str, path: str, edit: Callable[[dict, Exchange], None], status: int = 200) -> Mutation:
    """Edits the JSON answer of requests matching METHOD and a path regex (whole path)."""
    pattern = re.compile(path)

    def mutate(ex: Exchange) -> None:
        doc = ex.json()
        if ex.method == method and pattern.fullmatch(ex.path) and ex.status == status and isinstance(doc, dict):
            edit(doc, ex)
            ex.set_json(doc)
    return mutate


def _drop_operations(doc: dict, _ex: Exchange) -> None:
    for rest in doc.get("rest") or []:
        rest.pop("operation", None)


def _slots(status: str) -> Callable[[dict, Exchange], None]:
    def edit(doc: dict, _ex: Exchange) -> None:
        items = [e.get("resource") or {} for e in doc.get("entry") or []] if doc.get("type") == "searchset" else [doc]
        for item in items:
            if item.get("resourceType") == "Slot":
                item["status"] = status
    return edit


def _drop_response_identifier(doc: dict, _ex: Exchange) -> None:
    header = ((doc.get("entry") or [{}])[0].get("resource")) or {}
    (header.get("response") or {}).pop("identifier", None)


def _fresh_answer_id(doc: dict, _ex: Exchange) -> None:
    """A receiver that builds every answer anew: a repeated message gets an answer of its own."""
    if doc.get("resourceType") == "Bundle":
        doc["id"] = str(uuid.uuid4())


def _empty_search(doc: dict, _ex: Exchange) -> None:
    if doc.get("type") == "searchset":
        doc["entry"], doc["total"] = [], 0


def _cancel_answered_booked(doc: dict, ex: Exchange) -> None:
    request = ex.request_json() or {}
    header = ((request.get("entry") or [{}])[0].get("resource")) or {}
    if (header.get("eventCoding") or {}).get("code") == "booking-cancel":
        for entry in doc.get("entry") or []:
            if (entry.get("resource") or {}).get("resourceType") == "Appointment":
                entry["resource"]["status"] = "booked"


def _refuse_without_ubrn(ex: Exchange) -> None:
    """A PAS of before BaRS: a booking-request whose Appointment carries no UBRN is refused (after the
    real party booked it, which the check cannot see)."""
    request = ex.request_json() or {}
    if ex.method != "POST" or not re.fullmatch(MESSAGES, ex.path) or ex.status != 200 or not isinstance(request, dict):
        return
    entries = [e.get("resource") or {} for e in request.get("entry") or [] if isinstance(e, dict)]
    header = entries[0] if entries else {}
    if (header.get("eventCoding") or {}).get("code") != "booking-request":
        return
    appointment = next((r for r in entries if r.get("resourceType") == "Appointment"), {})
    if appointment.get("status") == "cancelled" or any(
            i.get("system") == "https://fhir.nhs.uk/Id/UBRN" for i in appointment.get("identifier") or []):
        return
    ex.status = 422
    ex.set_json({"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "required", "diagnostics": "the Appointment must carry a UBRN",
        "expression": ["Bundle.entry[1].resource.identifier"]}]})


def _ubrn(edit: Callable[[dict], None]) -> Callable[[dict, Exchange], None]:
    def apply(doc: dict, _ex: Exchange) -> None:
        for p in doc.get("parameter") or []:
            if p.get("name") == "ubrn":
                edit(p["valueIdentifier"])
    return apply


def _other_patient(doc: dict, _ex: Exchange) -> None:
    for ident in doc.get("identifier") or []:
        ident["value"] = ident.get("value", "")[::-1]


def _json_as_plain(ex: Exchange) -> None:
    ex.headers = [(k, b"application/json" if k.lower() == b"content-type" else v) for k, v in ex.headers]


def _drop_correlation_headers(ex: Exchange) -> None:
    ex.headers = [(k, v) for k, v in ex.headers if k.lower() not in (b"x-request-id", b"x-correlation-id")]


MESSAGES = r"(/[^/]+)?/\$process-message"

BREAKERS: dict[str, Mutation | None] = {
    # None: no wrapper; the provider is started with its reliable-messaging dedupe switched off.
    "no-dedupe": None,
    "500-on-invalid-input": status_swap(400, 500),
    "415-as-400": status_swap(415, 400),
    "404-as-400": status_swap(404, 400),
    "422-as-400": status_swap(422, 400),
    "conflict-as-422": status_swap(409, 422),
    "no-expression": drop_expressions,
    "plain-json-content-type": _json_as_plain,
    "drops-correlation-headers": _drop_correlation_headers,
    "metadata-without-operations": on("GET", r"(/[^/]+)?/metadata", _drop_operations),
    "slots-always-busy": on("GET", r"(/[^/]+)?/Slot(/[^/]+)?", _slots("busy")),
    "slots-always-free": on("GET", r"(/[^/]+)?/Slot/[^/]+", _slots("free")),
    "drops-response-identifier": on("POST", MESSAGES, _drop_response_identifier),
    "fresh-answer-id": on("POST", MESSAGES, _fresh_answer_id),
    "appointment-search-empty": on("GET", r"(/[^/]+)?/Appointment", _empty_search),
    "cancel-answered-booked": on("POST", MESSAGES, _cancel_answered_booked),
    "ubrn-wrong-system": on("POST", r"/\$allocate-ubrn", _ubrn(lambda i: i.update(system="urn:oid:1.2.3"))),
    "ubrn-always-the-same": on("POST", r"/\$allocate-ubrn", _ubrn(lambda i: i.update(value="999999999999"))),
    "patient-wrong-number": on("GET", r"/Patient/[^/]+", _other_patient),
    "requires-ubrn": _refuse_without_ubrn,
}

# The broken provider that must make each check fail. A new check without an entry here fails
# tests/contracts/test_breakers.py: every check has to be shown able to fail.
BREAKS: dict[str, str] = {
    "pas.capability": "metadata-without-operations",
    "pas.headers-mirrored": "drops-correlation-headers",
    "pas.slot-search": "slots-always-busy",
    "pas.booking-accepted": "drops-response-identifier",
    "pas.booking-claims-slot": "slots-always-free",
    "pas.booking-findable-by-ubrn": "appointment-search-empty",
    "pas.booking-without-ubrn": "requires-ubrn",
    "pas.duplicate-bundle-same-answer": "no-dedupe",
    "pas.duplicate-bundle-changed-conflict": "no-dedupe",
    "pas.slot-taken-conflict": "conflict-as-422",
    "pas.cancel-accepted": "cancel-answered-booked",
    "pas.cancel-frees-slot": "slots-always-busy",
    "pas.cancel-unknown-ubrn": "422-as-400",
    "pas.unknown-ods": "404-as-400",
    "pas.invalid-nhs-number": "no-expression",
    "pas.unknown-slot": "no-expression",
    "pas.invalid-bundle": "500-on-invalid-input",
    "pas.not-a-message": "no-expression",
    "pas.not-json": "500-on-invalid-input",
    "pas.unsupported-content-type": "415-as-400",
    "pas.unknown-event": "no-expression",

    "spine.capability": "metadata-without-operations",
    "spine.headers-mirrored": "drops-correlation-headers",
    "spine.patient-read": "patient-wrong-number",
    "spine.patient-unknown": "404-as-400",
    "spine.patient-invalid-nhs-number": "500-on-invalid-input",
    "spine.allocate-ubrn": "ubrn-wrong-system",
    "spine.allocate-ubrn-unique": "ubrn-always-the-same",
    "spine.allocate-ubrn-invalid-nhs-number": "no-expression",
    "spine.allocate-ubrn-missing-parameter": "500-on-invalid-input",
    "spine.allocate-ubrn-unknown-patient": "422-as-400",
    "spine.report-accepted": "drops-response-identifier",
    # With dedupe off the spine (like a practice) records the report again and builds an answer of the
    # same id (it derives from the request's) that differs only in its timestamp, which the same
    # millisecond would hide: a receiver giving each answer a new id fails the check every time.
    "spine.duplicate-bundle-same-answer": "fresh-answer-id",
    "spine.duplicate-bundle-changed-conflict": "no-dedupe",
    "spine.cancel-report-accepted": "cancel-answered-booked",
    "spine.cancel-unknown-ubrn": "422-as-400",
    "spine.index-unknown-ubrn": "404-as-400",
    "spine.invalid-bundle": "plain-json-content-type",
    "spine.not-a-message": "500-on-invalid-input",
    "spine.not-json": "500-on-invalid-input",
    "spine.unsupported-content-type": "415-as-400",
    "spine.unknown-event": "no-expression",

    "gp.capability": "metadata-without-operations",
    "gp.headers-mirrored": "drops-correlation-headers",
    "gp.confirmation-accepted": "drops-response-identifier",
    "gp.confirmation-recorded": "appointment-search-empty",
    "gp.duplicate-bundle-same-answer": "fresh-answer-id",
    "gp.duplicate-bundle-changed-conflict": "no-dedupe",
    "gp.cancel-confirmation": "cancel-answered-booked",
    "gp.not-a-response": "no-expression",
    "gp.bad-response-code": "422-as-400",
    "gp.wrong-practice": "422-as-400",
    "gp.unknown-practice": "404-as-400",
    "gp.invalid-bundle": "500-on-invalid-input",
    "gp.not-a-message": "no-expression",
    "gp.not-json": "plain-json-content-type",
    "gp.unsupported-content-type": "415-as-400",
    "gp.unknown-event": "422-as-400",

    "broker.capability": "metadata-without-operations",
    "broker.headers-mirrored": "drops-correlation-headers",
    "broker.slot-search": "slots-always-busy",
    "broker.booking-accepted": "drops-response-identifier",
    "broker.booking-in-ledger": "appointment-search-empty",
    "broker.duplicate-bundle-same-answer": "no-dedupe",
    "broker.duplicate-bundle-changed-conflict": "no-dedupe",
    "broker.slot-taken-conflict": "conflict-as-422",
    "broker.cancel-accepted": "cancel-answered-booked",
    "broker.cancel-unknown-ubrn": "404-as-400",
    "broker.missing-sender": "no-expression",
    "broker.unknown-practice": "422-as-400",
    "broker.unknown-service": "422-as-400",
    "broker.invalid-bundle": "no-expression",
    "broker.not-a-message": "500-on-invalid-input",
    "broker.not-json": "500-on-invalid-input",
    "broker.unsupported-content-type": "415-as-400",
    "broker.unknown-event": "no-expression",
}
