"""Referrals (BaRS servicerequest-request and servicerequest-response) routed by the broker between a
practice and a trust: delivered, lost (and named by reconciliation), cured by reliable delivery; and
the published BaRS referral messages, values changed, routed."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.reconcile import ReconcileJob, run_job
from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import DOS_SYSTEM, NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, dos_id
from tests.e2e.bars_examples import Known, MessageSchema, rewrite_values
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)
FHIR = {"Content-Type": "application/fhir+json"}
# Where the spec's schema contradicts FHIR R4, R4 wins: these elements are single CodeableConcepts or
# Addresses in R4 (0..1), arrays in the schema (which merged every resource's properties into one).
R4_OVER_SCHEMA = {"code": {"Observation", "Flag"}, "address": {"Location"}}


async def _practice_and_patient(client, urls) -> tuple[str, str]:
    org = (await client.get(f"{urls.gp}/Organization")).json()["entry"][0]["resource"]
    ods = org["identifier"][0]["value"]
    patient = (await client.get(f"{urls.gp}/{ods}/Patient", params={"_count": 1})).json()["entry"][0]["resource"]
    return ods, patient["identifier"][0]["value"]


async def _service(client, urls) -> dict:
    return (await client.get(f"{urls.broker}/HealthcareService")).json()["entry"][0]["resource"]


async def _refer(client, urls, ods: str, nhs: str, service: dict) -> tuple[str, int]:
    specialty = service["type"][0]["coding"][0]["code"]
    sr = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
          "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
          "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty}]}}
    created = await client.post(f"{urls.gp}/{ods}/ServiceRequest", json=sr, headers=FHIR)
    assert created.status_code == 201, created.text
    referral_id = created.json()["id"]
    params = {"resourceType": "Parameters", "parameter": [{"name": "service", "valueString": service["id"]}]}
    r = await client.post(f"{urls.gp}/{ods}/ServiceRequest/{referral_id}/$refer", json=params, headers=FHIR)
    return referral_id, r.status_code


def _state(bundle: dict) -> dict[str, str]:
    out = {}
    for e in bundle.get("entry", []):
        sr = e["resource"]
        rid = next(i["value"] for i in sr["identifier"] if i["system"] == REFERRAL_SYSTEM)
        out[rid] = next((x["valueCode"] for x in sr.get("extension", [])), sr["status"])
    return out


async def test_a_referral_reaches_the_trust_and_the_practice_hears_it_accepted(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        ods, nhs = await _practice_and_patient(client, urls)
        service = await _service(client, urls)
        trust = service["providedBy"]["identifier"]["value"]
        referral_id, status = await _refer(client, urls, ods, nhs, service)
        assert status == 200
        at_trust = (await client.get(f"{urls.pas}/{trust}/ServiceRequest",
                                     params={"identifier": f"{REFERRAL_SYSTEM}|{referral_id}"})).json()
        assert at_trust["total"] == 1
        assert _state((await client.get(f"{urls.broker}/ServiceRequest")).json()) == {referral_id: "accepted"}
        assert _state((await client.get(f"{urls.gp}/{ods}/ServiceRequest")).json()) == {referral_id: "accepted"}
        links = {(e["link"], e["event"]) for e in
                 (await client.get(f"{urls.broker}/journal", params={"_count": 100})).json()["entries"]}
        assert (f"broker->pas:{trust}", "servicerequest-request") in links
        assert (f"broker->gp:{ods}", "servicerequest-response") in links
        _rec, doc = await run_job(client, ReconcileJob(urls=urls, settle_s=5))
        assert doc["discrepancies"] == []


@pytest.mark.parametrize("delivery", ["fire-and-forget", "reliable"])
async def test_a_referral_dropped_on_its_way_to_the_trust_is_named_or_cured(tmp_path, delivery):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        rules = [{"link": "broker->pas:*", "event": "servicerequest-request", "action": "drop", "nth": [1]}]
        assert (await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": rules})).status_code == 200
        assert (await client.put(f"{urls.broker}/delivery", json={"mode": delivery})).status_code == 200
        ods, nhs = await _practice_and_patient(client, urls)
        referral_id, status = await _refer(client, urls, ods, nhs, await _service(client, urls))
        assert status == 200
        _rec, doc = await run_job(client, ReconcileJob(urls=urls, settle_s=20))
        kinds = [(d["kind"], d["ubrn"]) for d in doc["discrepancies"]]
        if delivery == "reliable":
            assert kinds == []
            assert _state((await client.get(f"{urls.gp}/{ods}/ServiceRequest")).json()) == {referral_id: "accepted"}
        else:
            assert kinds == [("referral_missing_at_pas", f"referral:{referral_id}")]


async def test_the_published_referral_messages_are_routed(tmp_path, reference_dir):
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        ods, nhs = await _practice_and_patient(client, urls)
        service = await _service(client, urls)
        trust = service["providedBy"]["identifier"]["value"]
        dos = next(i["value"] for i in service["identifier"] if i["system"] == DOS_SYSTEM)
        known = Known(nhs_number=nhs, practice_ods=ods, practice_dos=dos_id("practice", ods), trust_ods=trust,
                      trust_dos=dos_id("trust", trust), service_id=service["id"], service_dos=dos)
        headers = {**FHIR, "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}

        request = rewrite_values(json.loads((reference_dir / "process_message/request/ValidationRequest_POST.json")
                                            .read_text()), known)
        r = await client.post(f"{urls.broker}/$process-message", json=request, headers=headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["entry"][0]["resource"]["response"] == {"identifier": request["id"], "code": "ok"}
        assert schema.errors(answer) == []
        held = (await client.get(f"{urls.pas}/{trust}/ServiceRequest")).json()
        assert held["total"] == 1

        # The trust's own response, routed to the practice it names; the practice has no such referral
        # of its own and says so, and the broker passes that answer back.
        response = rewrite_values(json.loads((reference_dir / "process_message/request/ValidationResponse_POST.json")
                                             .read_text()), known, to_practice=True)
        r = await client.post(f"{urls.broker}/$process-message", json=response, headers=headers)
        assert r.status_code == 422, r.text
        assert "made no referral" in r.json()["issue"][0]["diagnostics"]
        journal = (await client.get(f"{urls.broker}/journal", params={"_count": 100})).json()["entries"]
        assert [e["outcome"] for e in journal if e["link"] == f"broker->gp:{ods}"
                and e["event"] == "servicerequest-response" and e["bundle_id"] == response["id"]] == ["rejected"]

        # What the published referral breaks in the spec's own schema is only where R4 says otherwise.
        for path, _message in schema.errors(request):
            _, index, _, element = path.split("/")[:4]
            kind = request["entry"][int(index)]["resource"]["resourceType"]
            assert kind in R4_OVER_SCHEMA.get(element, set()), path


async def test_an_event_the_broker_does_not_route_gets_422_with_its_bars_code(tmp_path, reference_dir):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        message = json.loads((reference_dir / "process_message/request/Booking_POST.json").read_text())
        message["entry"][0]["resource"]["eventCoding"]["code"] = "booking-update-unknown"
        r = await client.post(f"{urls.broker}/$process-message", json=message, headers=FHIR)
        assert r.status_code == 422
        issue = r.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[0].resource.eventCoding.code"]
        assert issue["details"]["coding"][0]["code"] == "REC_UNPROCESSABLE_ENTITY"
