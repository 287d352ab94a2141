"""The broker as the BaRS proxy: the trace headers it requires, the ids it passes on, and the BaRS
codes of what it answers itself (SEND_/PROXY_) and as the booking service (REC_)."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from party_common.http_client import RoutingTransport
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM
from party_common.outcome import HTTP_ERROR_SYSTEM
from tests.booking_broker import direct_driver as dd
from tests.stack_inprocess import inprocess_stack

RID, CID = "c1ab3fba-6bae-4ba4-b257-5a87c44d4a91", "9562466f-c982-4bd5-bb0e-255e9f5e6689"
TRACE = {"X-Request-ID": RID, "X-Correlation-ID": CID}
FHIR = {"Content-Type": "application/fhir+json"}


class Watching(RoutingTransport):
    """Every call between parties, with its headers."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, httpx.Headers]] = []

    async def handle_async_request(self, request):
        if "x-testbed-party-call" in request.headers:
            self.calls.append((f"{request.method} {request.url}", request.headers.copy()))
        return await super().handle_async_request(request)


def _codes(r: httpx.Response) -> list[tuple[str, str]]:
    """(issue code, BaRS code) of each issue of an OperationOutcome answer."""
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    out = []
    for issue in body["issue"]:
        (coding,) = issue["details"]["coding"]
        assert coding["system"] == HTTP_ERROR_SYSTEM
        out.append((issue["code"], coding["code"]))
    return out


def _raw(urls, apps) -> httpx.AsyncClient:
    """A client that sends only what the test gives it, as curl would."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["broker"]), base_url=urls.broker)


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value.lower()


async def _a_booking_message(client, urls) -> dict:
    (service, slot), = (await dd.slot_pool(client, urls, per_service=1))[:1]
    practice, nhs = (await dd.patients(client, urls))[0]
    return dd.request_message(5, 0, practice, nhs, service, slot, urls.broker)


async def test_messages_and_operations_are_refused_without_trace_headers(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, apps):
        message = await _a_booking_message(client, urls)
        async with _raw(urls, apps) as raw:
            for method, path, body in (("POST", "/$process-message", orjson.dumps(message)),
                                       ("POST", "/Appointment/990000000001/$resend", b"{}")):
                r = await raw.request(method, path, content=body, headers=FHIR)
                assert r.status_code == 400, path
                assert _codes(r) == [("required", "SEND_BAD_REQUEST")] * 2, path
                assert [i["expression"] for i in r.json()["issue"]] == [["X-Request-ID"], ["X-Correlation-ID"]]
        # Refused before anything was done: the message never reached the inbound link.
        assert not [e for e in await dd.journal(client, urls) if e["link"].startswith("gp:")]


async def test_reads_and_searches_make_up_missing_trace_ids_but_refuse_malformed_ones(tmp_path):
    """A FHIR client (fhirpy, fhirclient) sends no BaRS trace headers: a read or search is served
    with ids of the broker's own, echoed; ids that are sent must still be UUIDs."""
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, apps):
        message = await _a_booking_message(client, urls)
        async with _raw(urls, apps) as raw:
            for path in ("/Slot?specialty=cardiology", "/HealthcareService", "/Appointment", "/ServiceRequest",
                         "/Appointment/$export"):
                r = await raw.get(path)
                assert r.status_code == 200, (path, r.text)
                assert _is_uuid(r.headers["x-request-id"]) and _is_uuid(r.headers["x-correlation-id"]), path
                for headers, where in (({"X-Request-ID": "curl-1", "X-Correlation-ID": CID}, "X-Request-ID"),
                                       ({"X-Correlation-ID": "run-1"}, "X-Correlation-ID")):
                    r = await raw.get(path, headers=headers)
                    assert r.status_code == 400 and _codes(r) == [("value", "SEND_BAD_REQUEST")], path
                    assert r.json()["issue"][0]["expression"] == [where]
            # A message with malformed ids is refused as before.
            r = await raw.post("/$process-message", content=orjson.dumps(message),
                               headers={**FHIR, "X-Request-ID": "curl-1", "X-Correlation-ID": CID})
            assert r.status_code == 400 and _codes(r) == [("value", "SEND_BAD_REQUEST")]
            assert r.headers["x-request-id"] == "curl-1"


async def test_health_metadata_metrics_clock_and_control_routes_need_no_trace_headers(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, _client, apps):
        async with _raw(urls, apps) as raw:
            for path in ("/health", "/metadata", "/metrics", "/clock", "/faults", "/delivery", "/journal",
                         "/outbox", "/links"):
                r = await raw.get(path)
                assert r.status_code == 200, path
                assert _is_uuid(r.headers["x-request-id"]), path


async def test_relaxed_the_broker_takes_a_hand_made_call_and_makes_up_the_ids(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20, broker_overrides={"require_trace_headers": False}) as (
            urls, client, apps):
        message = await _a_booking_message(client, urls)
        async with _raw(urls, apps) as raw:
            r = await raw.post("/$process-message", content=orjson.dumps(message), headers=FHIR)
            assert r.status_code == 200, r.text
            assert _is_uuid(r.headers["x-request-id"]) and r.headers["x-correlation-id"]
            assert (await raw.get("/Slot", params={"specialty": "cardiology"},
                                  headers={"X-Request-ID": "by-hand"})).status_code == 200


async def test_every_call_the_broker_makes_carries_uuids_and_keeps_the_correlation_id(tmp_path):
    watching = Watching()
    async with inprocess_stack(tmp_path, population_size=20, routes=watching) as (urls, client, _apps):
        message = await _a_booking_message(client, urls)
        watching.calls.clear()
        r = await client.post(f"{urls.broker}/$process-message", content=orjson.dumps(message),
                              headers={**FHIR, **TRACE})
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"] == RID and r.headers["x-correlation-id"] == CID
        targets = [call for call, _ in watching.calls]
        # UBRN at the spine, the booking at the PAS, the confirmation at the GP, the spine's index.
        assert any("spine.test" in t for t in targets) and any("pas.test" in t for t in targets)
        assert any("gp.test" in t for t in targets)
        for call, headers in watching.calls:
            assert headers["x-request-id"] == RID, call
            assert headers["x-correlation-id"] == CID, call


async def test_a_gp_system_sends_the_broker_uuids_whatever_its_caller_sent(tmp_path):
    watching = Watching()
    async with inprocess_stack(tmp_path, population_size=20, routes=watching) as (urls, client, _apps):
        practice, nhs = (await dd.patients(client, urls))[0]
        (service, slot), = (await dd.slot_pool(client, urls, per_service=1))[:1]
        referral = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                    "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
                    "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": "cardiology"}]}}
        by_hand = {"X-Request-ID": "curl-7", "X-Correlation-ID": "my-booking"}
        r = await client.post(f"{urls.gp}/{practice}/ServiceRequest", json=referral, headers=by_hand)
        assert r.status_code == 201, r.text
        watching.calls.clear()
        r = await client.post(f"{urls.gp}/{practice}/ServiceRequest/{r.json()['id']}/$book",
                              json={"resourceType": "Parameters", "parameter": [
                                  {"name": "service", "valueString": service},
                                  {"name": "start", "valueDateTime": slot["start"]}]}, headers=by_hand)
        assert r.status_code == 200, r.text
        to_broker = [h for call, h in watching.calls if "broker.test" in call]
        assert to_broker, [call for call, _ in watching.calls]
        assert all(_is_uuid(h["x-request-id"]) and _is_uuid(h["x-correlation-id"]) for _, h in watching.calls)
        # One correlation id for the whole booking, derived the same way on every call.
        assert len({h["x-correlation-id"] for _, h in watching.calls}) == 1


@pytest.mark.parametrize("accept", ["application/fhir+xml", "text/html"])
async def test_an_accept_the_proxy_cannot_serve_is_send_not_acceptable(tmp_path, accept):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        for path in ("/Slot?specialty=cardiology", "/Appointment", "/metadata"):
            r = await client.get(f"{urls.broker}{path}", headers={"Accept": accept})
            assert r.status_code == 406, path
            assert _codes(r) == [("processing", "SEND_NOT_ACCEPTABLE")]
        r = await client.get(f"{urls.broker}/Slot", params={"specialty": "cardiology"},
                             headers={"Accept": "application/fhir+json; version=1.0.0"})
        assert r.status_code == 200


async def test_what_the_broker_refuses_carries_the_code_of_its_role(tmp_path):
    async with inprocess_stack(tmp_path, population_size=20) as (urls, client, _apps):
        b = urls.broker
        message = await _a_booking_message(client, urls)
        # The proxy: no such endpoint, wrong verb.
        r = await client.get(f"{b}/Nothing/here")
        assert r.status_code == 404 and _codes(r) == [("not-found", "PROXY_NOT_FOUND")]
        r = await client.get(f"{b}/$process-message")
        assert r.status_code == 405 and _codes(r) == [("not-supported", "SEND_METHOD_NOT_ALLOWED")]
        # The booking service: a malformed message, a wrong content type, an unknown event,
        # an unknown booking, a query parameter it cannot read.
        broken = {**message, "type": "collection"}
        r = await client.post(f"{b}/$process-message", content=orjson.dumps(broken), headers=FHIR)
        assert r.status_code == 400 and _codes(r)[0][1] == "REC_BAD_REQUEST"
        assert r.json()["issue"][0]["expression"]
        r = await client.post(f"{b}/$process-message", content=orjson.dumps(message),
                              headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and _codes(r) == [("not-supported", "REC_NOT_ACCEPTABLE")]
        unknown = orjson.loads(orjson.dumps(message))
        unknown["entry"][0]["resource"]["eventCoding"]["code"] = "booking-frobnicate"
        r = await client.post(f"{b}/$process-message", content=orjson.dumps(unknown), headers=FHIR)
        assert r.status_code == 422 and {c for _, c in _codes(r)} == {"REC_UNPROCESSABLE_ENTITY"}
        r = await client.get(f"{b}/Slot", params={"specialty": "cardiology", "_count": "many"})
        assert r.status_code == 400 and {c for _, c in _codes(r)} == {"REC_BAD_REQUEST"}


async def test_injected_faults_on_the_inbound_link_carry_rec_codes(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "gp:*->broker", "action": "error", "nth": [1], "status": 429, "code": "throttled"},
            {"link": "gp:*->broker", "action": "lose-ack", "nth": [2]},
            {"link": "gp:*->broker", "action": "outage", "nth": [3]}]})
        pool = await dd.slot_pool(client, urls, per_service=2)
        people = await dd.patients(client, urls)
        answers = []
        for i in range(3):
            (service, slot), (practice, nhs) = pool[i], people[i]
            message = dd.request_message(3, i, practice, nhs, service, slot, urls.broker)
            answers.append(await client.post(f"{urls.broker}/$process-message", content=orjson.dumps(message),
                                             headers=FHIR))
        assert [r.status_code for r in answers] == [429, 504, 503]
        assert [_codes(r) for r in answers] == [[("throttled", "REC_TOO_MANY_REQUESTS")],
                                                [("timeout", "REC_TIMEOUT")],
                                                [("transient", "REC_SERVICE_UNAVAILABLE")]]
