"""Referral creation: registration at the practice, the spine's check, validation at the edge."""

from __future__ import annotations

import uuid

from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import ODS_SYSTEM
from party_common.correlation import CORRELATION_ID_HEADER, REQUEST_ID_HEADER

from sqlalchemy import select

from gp_system.models import Referral

from .conftest import GP, OTHER_PRACTICE, PRACTICE, service_request


async def test_referral_for_a_registered_patient_is_stored(stack):
    nhs = stack.patient_at(PRACTICE)
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(nhs, "dermatology"))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["resourceType"] == "ServiceRequest"
    assert body["identifier"] == [{"system": REFERRAL_SYSTEM, "value": body["id"]}]
    assert (body["status"], body["intent"]) == ("active", "order")
    assert body["requester"]["identifier"] == {"system": ODS_SYSTEM, "value": PRACTICE}
    assert body["subject"]["identifier"]["value"] == nhs
    assert body["code"]["coding"][0]["code"] == "dermatology"
    assert body["note"] == [{"text": "chest pain on exertion"}]
    assert resp.headers["location"] == f"{GP}/{PRACTICE}/ServiceRequest/{body['id']}"
    assert stack.spine.lookups == [nhs]

    read = await stack.client.get(f"/{PRACTICE}/ServiceRequest/{body['id']}")
    assert read.status_code == 200
    assert read.headers["content-type"].startswith("application/fhir+json")
    assert read.json() == body


async def test_referral_ids_are_distinct(stack):
    a, b = await stack.refer(), await stack.refer()
    assert a["id"] != b["id"]


async def test_patient_registered_elsewhere_is_422_without_asking_the_spine(stack):
    nhs = stack.patient_at(OTHER_PRACTICE)
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(nhs))
    assert resp.status_code == 422
    issue = resp.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["ServiceRequest.subject"]
    assert stack.spine.lookups == []


async def test_patient_unknown_to_the_spine_is_422(stack):
    nhs = stack.patient_at(PRACTICE)
    stack.spine.known.discard(nhs)
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(nhs))
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["code"] == "business-rule"
    assert "spine" in resp.json()["issue"][0]["diagnostics"]
    assert stack.spine.lookups == [nhs]


async def test_spine_down_is_503_transient(stack):
    stack.spine.transport.fault = "down"
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE)))
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"


async def test_spine_timeout_and_5xx_are_503_transient(stack):
    nhs = stack.patient_at(PRACTICE)
    stack.spine.transport.fault = "timeout"
    assert (await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(nhs))).status_code == 503
    stack.spine.transport.fault = None
    stack.spine.status_override = 500
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(nhs))
    assert resp.status_code == 503
    assert resp.json()["issue"][0]["code"] == "transient"


async def test_failed_checks_store_nothing(stack):
    stack.spine.transport.fault = "down"
    await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE)))
    stack.spine.transport.fault = None
    stack.spine.known.discard(stack.patient_at(PRACTICE, 1))
    await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE, 1)))
    ok = await stack.refer()
    async with stack.app.state.db.session() as session:
        stored = (await session.execute(select(Referral.id))).scalars().all()
    assert stored == [ok["id"]]


async def test_trace_ids_are_passed_to_the_spine(stack):
    trace = {REQUEST_ID_HEADER: "c1ab3fba-6bae-4ba4-b257-5a87c44d4a91",
             CORRELATION_ID_HEADER: "9562466f-c982-4bd5-bb0e-255e9f5e6689"}
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE)),
                            headers=trace)
    assert resp.status_code == 201
    assert resp.headers[CORRELATION_ID_HEADER] == trace[CORRELATION_ID_HEADER]
    sent = stack.spine.headers[-1]
    assert {name: sent[name] for name in trace} == trace


async def test_trace_ids_that_are_not_uuids_reach_the_spine_as_uuids(stack):
    """A hand-made call's ids are echoed as they came, but every party on the way sees UUIDs (BaRS)."""
    headers = {REQUEST_ID_HEADER: "curl-1", CORRELATION_ID_HEADER: "corr-42"}
    for nth in (0, 1):
        resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE, nth)),
                                headers=headers)
        assert resp.status_code == 201
        assert resp.headers[CORRELATION_ID_HEADER] == "corr-42"
    first, second = stack.spine.headers[-2:]
    for sent in (first, second):
        assert all(str(uuid.UUID(sent[name])) == sent[name] for name in headers)
    # One correlation id, derived from the caller's the same way each time; request ids of their own.
    assert first[CORRELATION_ID_HEADER] == second[CORRELATION_ID_HEADER]
    assert first[REQUEST_ID_HEADER] != second[REQUEST_ID_HEADER]


async def test_subject_without_nhs_number_is_422_required(stack):
    body = service_request(stack.patient_at(PRACTICE))
    body["subject"] = {"reference": "Patient/1"}
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", body)
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["expression"] == ["ServiceRequest.subject.identifier"]


async def test_malformed_nhs_number_is_400(stack):
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request("9990000000"))
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["ServiceRequest.subject.identifier.value"]
    assert stack.spine.lookups == []


async def test_missing_specialty_is_422_naming_code(stack):
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", service_request(stack.patient_at(PRACTICE), None))
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["expression"] == ["ServiceRequest.code"]


async def test_invalid_fhir_is_400_naming_the_element(stack):
    body = service_request(stack.patient_at(PRACTICE))
    body["note"] = "not a list of annotations"
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", body)
    assert resp.status_code == 400
    assert any("ServiceRequest.note" in e for e in resp.json()["issue"][0]["expression"])


async def test_wrong_resource_type_is_400(stack):
    resp = await stack.post(f"/{PRACTICE}/ServiceRequest", {"resourceType": "Patient"})
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["resourceType"]


async def test_wrong_content_type_is_415(stack):
    resp = await stack.client.post(f"/{PRACTICE}/ServiceRequest", content=b"<xml/>",
                                   headers={"Content-Type": "application/xml"})
    assert resp.status_code == 415
    assert resp.json()["issue"][0]["code"] == "not-supported"


async def test_unparsable_json_is_400(stack):
    resp = await stack.client.post(f"/{PRACTICE}/ServiceRequest", content=b"{nope",
                                   headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 400
    assert resp.json()["resourceType"] == "OperationOutcome"


async def test_referral_is_only_visible_at_its_practice(stack):
    ref = await stack.refer()
    assert (await stack.client.get(f"/{OTHER_PRACTICE}/ServiceRequest/{ref['id']}")).status_code == 404
    resp = await stack.client.get(f"/{PRACTICE}/ServiceRequest/no-such-referral")
    assert resp.status_code == 404
    assert resp.json()["issue"][0]["code"] == "not-found"
