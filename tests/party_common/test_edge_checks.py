"""What every party checks at its edge, with its BaRS code: the app-level errors (unknown route, wrong
method, invalid parameters, a bug), the Accept header (406), and at a proxy the trace headers."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter

from party_common.app_factory import capability_statement, create_party_app
from party_common.correlation import correlation_id_var, outbound_headers, request_id_var
from party_common.fhir_json import is_fhir_path
from party_common.outcome import HTTP_ERROR_SYSTEM

RID, CID = "c1ab3fba-6bae-4ba4-b257-5a87c44d4a91", "9562466f-c982-4bd5-bb0e-255e9f5e6689"
TRACE = {"X-Request-ID": RID, "X-Correlation-ID": CID}


def _app(proxy: bool = False, require_trace_headers: bool = False):
    router = APIRouter()

    @router.get("/Slot")
    async def slots(_count: int = 10):
        return {"resourceType": "Bundle", "type": "searchset", "total": _count}

    @router.get("/{ods}/Appointment/$export")
    async def export(ods: str):
        return {"resourceType": "Bundle"}

    @router.get("/Boom")
    async def boom():
        raise RuntimeError("a bug")

    @router.get("/faults")
    async def control():
        return {"rules": []}

    app = create_party_app("test", capability_statement("test", [], []), proxy=proxy,
                           require_trace_headers=require_trace_headers)
    app.include_router(router)
    return app


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://party.test")


def _codes(r: httpx.Response) -> list[str]:
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    out = []
    for issue in body["issue"]:
        assert issue["details"]["coding"][0]["system"] == HTTP_ERROR_SYSTEM
        out.append(issue["details"]["coding"][0]["code"])
    return out


@pytest.mark.parametrize(("proxy", "expected"), [
    (False, {"route": "REC_NOT_FOUND", "method": "REC_METHOD_NOT_ALLOWED"}),
    (True, {"route": "PROXY_NOT_FOUND", "method": "SEND_METHOD_NOT_ALLOWED"}),
])
async def test_app_level_errors_carry_their_code(proxy, expected):
    async with _client(_app(proxy=proxy)) as client:
        r = await client.get("/Nothing/here", headers=TRACE)
        assert r.status_code == 404 and _codes(r) == [expected["route"]]
        r = await client.delete("/Slot", headers=TRACE)
        assert r.status_code == 405 and _codes(r) == [expected["method"]]
        assert r.json()["issue"][0]["code"] == "not-supported"
        r = await client.get("/Slot", params={"_count": "many"}, headers=TRACE)
        assert r.status_code == 400 and _codes(r) == ["REC_BAD_REQUEST"]
        assert r.json()["issue"][0]["expression"] == ["_count"]
        r = await client.get("/Boom", headers=TRACE)
        assert r.status_code == 500 and _codes(r) == ["REC_SERVER_ERROR"]


@pytest.mark.parametrize("accept", [
    None, "*/*", "application/json", "application/fhir+json", "application/fhir+json; version=1.0.0",
    "application/fhir+json;fhirVersion=4.0", "application/fhir+json; charset=utf-8", "application/*",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "",
])
async def test_accept_headers_we_can_serve(accept):
    headers = {} if accept is None else {"Accept": accept}
    async with _client(_app()) as client:
        assert (await client.get("/Slot", headers=headers)).status_code == 200
        assert (await client.get("/metadata", headers=headers)).status_code == 200


@pytest.mark.parametrize("accept", ["application/fhir+xml", "text/html", "application/xml", "text/plain",
                                    "application/fhir+json;q=0", "not a media type"])
@pytest.mark.parametrize(("proxy", "code"), [(False, "REC_NOT_ACCEPTABLE"), (True, "SEND_NOT_ACCEPTABLE")])
async def test_an_accept_header_we_cannot_serve_is_406(accept, proxy, code):
    async with _client(_app(proxy=proxy)) as client:
        for path in ("/Slot", "/metadata", "/RT1/Appointment/$export"):
            r = await client.get(path, headers={"Accept": accept, **TRACE})
            assert r.status_code == 406, path
            assert _codes(r) == [code]
            assert r.json()["issue"][0]["code"] == "processing"
            assert r.headers["content-type"].startswith("application/fhir+json")
            # The trace comes back on a refusal too.
            assert r.headers["x-request-id"] == RID


async def test_the_routes_that_are_not_fhir_answer_any_accept():
    async with _client(_app(proxy=True, require_trace_headers=True)) as client:
        for path in ("/health", "/clock", "/faults"):
            assert (await client.get(path, headers={"Accept": "text/html"})).status_code == 200, path


async def test_an_export_may_be_asked_for_as_ndjson():
    async with _client(_app()) as client:
        r = await client.get("/RT1/Appointment/$export", headers={"Accept": "application/fhir+ndjson"})
        assert r.status_code == 200


def test_fhir_paths_are_told_from_the_others():
    for path in ("/Slot", "/RT1/Slot", "/$process-message", "/Y90001/$process-message", "/metadata",
                 "/RT1/metadata", "/Appointment/123/$resend", "/Appointment/$export"):
        assert is_fhir_path(path), path
    for path in ("/health", "/metrics", "/clock", "/clock/advance", "/faults", "/faults/r1", "/delivery",
                 "/journal", "/journal/messages", "/outbox", "/links", "/"):
        assert not is_fhir_path(path), path


# -- the trace headers at a proxy -----------------------------------------------------------------

@pytest.mark.parametrize(("headers", "problems"), [
    ({}, [("required", "X-Request-ID"), ("required", "X-Correlation-ID")]),
    ({"X-Request-ID": RID}, [("required", "X-Correlation-ID")]),
    ({"X-Correlation-ID": CID}, [("required", "X-Request-ID")]),
    ({"X-Request-ID": "req-1", "X-Correlation-ID": CID}, [("value", "X-Request-ID")]),
    ({"X-Request-ID": RID, "X-Correlation-ID": "run-0000001"}, [("value", "X-Correlation-ID")]),
    ({"X-Request-ID": RID.replace("-", ""), "X-Correlation-ID": CID}, [("value", "X-Request-ID")]),
    ({"X-Request-ID": "", "X-Correlation-ID": CID}, [("required", "X-Request-ID")]),
])
async def test_a_proxy_refuses_missing_or_malformed_trace_headers(headers, problems):
    async with _client(_app(proxy=True, require_trace_headers=True)) as client:
        for method, path in (("POST", "/$process-message"), ("GET", "/Slot"), ("GET", "/RT1/Appointment/$export")):
            # Reads and searches need no trace headers (a FHIR client sends none); sent ones must be UUIDs.
            expected = problems if method == "POST" else [p for p in problems if p[0] == "value"]
            r = await client.request(method, path, headers=headers)
            if not expected:
                assert r.status_code == 200, path
                continue
            assert r.status_code == 400, path
            issues = r.json()["issue"]
            assert [(i["code"], i["expression"][0]) for i in issues] == expected
            assert _codes(r) == ["SEND_BAD_REQUEST"] * len(expected)
            assert all(i["expression"][0] in i["diagnostics"] for i in issues)


async def test_a_proxy_takes_uuids_in_any_case_and_echoes_them():
    async with _client(_app(proxy=True, require_trace_headers=True)) as client:
        upper = {"X-Request-ID": RID.upper(), "X-Correlation-ID": CID}
        r = await client.get("/Slot", headers=upper)
        assert r.status_code == 200
        assert r.headers["x-request-id"] == RID.upper() and r.headers["x-correlation-id"] == CID


async def test_health_metadata_and_control_routes_need_no_trace_headers():
    async with _client(_app(proxy=True, require_trace_headers=True)) as client:
        for path in ("/health", "/metadata", "/clock", "/faults"):
            r = await client.get(path)
            assert r.status_code == 200, path
            assert is_uuid_header(r.headers["x-request-id"])


async def test_relaxed_the_proxy_generates_what_is_missing():
    async with _client(_app(proxy=True, require_trace_headers=False)) as client:
        r = await client.get("/Slot")
        assert r.status_code == 200 and is_uuid_header(r.headers["x-request-id"])
        assert (await client.get("/Slot", headers={"X-Request-ID": "by-hand"})).status_code == 200


async def test_receivers_do_not_require_trace_headers():
    async with _client(_app()) as client:
        assert (await client.get("/Slot")).status_code == 200


def is_uuid_header(value: str) -> bool:
    return str(uuid.UUID(value)) == value


# -- what goes out ----------------------------------------------------------------------------------

def _outbound(rid: str | None, cid: str | None) -> list[dict[str, str]]:
    tokens = request_id_var.set(rid), correlation_id_var.set(cid)
    try:
        return [outbound_headers() for _ in range(2)]
    finally:
        request_id_var.reset(tokens[0])
        correlation_id_var.reset(tokens[1])


def test_uuids_received_are_passed_on():
    assert _outbound(RID, CID) == [TRACE, TRACE]


def test_ids_that_are_not_uuids_go_out_as_uuids_the_correlation_kept():
    first, second = _outbound("req-1", "run-0000001")
    assert all(is_uuid_header(h[name]) for h in (first, second) for name in TRACE)
    # A request id of its own per call; one correlation id, derived the same way every time.
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert first["X-Correlation-ID"] == second["X-Correlation-ID"] == _outbound(None, "run-0000001")[0][
        "X-Correlation-ID"]


def test_outside_a_request_each_call_gets_ids_of_its_own():
    first, second = _outbound(None, None)
    assert all(is_uuid_header(h[name]) for h in (first, second) for name in TRACE)
    assert first != second
