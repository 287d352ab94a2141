"""The published BaRS messages, values changed to ones the testbed knows and structure untouched, sent
to the broker (the BaRS proxy) and straight to a trust's PAS: bookings book end to end and reconcile,
what the spec's schema and FHIR R4 refuse is refused precisely, and what we answer passes the schema."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.reconcile import ReconcileJob, run_job
from party_common import bars_headers
from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM, dos_id
from party_common.messaging import read_message
from party_common.outcome import BARS_ERROR_SYSTEM
from tests.e2e.bars_examples import Known, MessageSchema, known_values, rewrite_values
from tests.stack_inprocess import inprocess_stack

pytestmark = pytest.mark.timeout(300)

FHIR = {"Content-Type": "application/fhir+json"}
BOOKINGS = ["process_message/POST-body.json", "process_message/request/Booking_POST.json"]
NOT_R4 = ["process_message/POST-success.json", "process_message/response/Booking_HTTP_Response.json"]


def _load(reference_dir, name: str) -> dict:
    return json.loads((reference_dir / name).read_text())


def _identifier(res: dict, system: str) -> str | None:
    return next((i["value"] for i in res.get("identifier") or [] if i.get("system") == system), None)


def _ubrn(answer: dict) -> str | None:
    msg = read_message(answer)
    return _identifier(msg.focus or {}, UBRN_SYSTEM)


def _headers(known: Known, variant: str) -> dict:
    headers = {**FHIR, "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}
    if variant == "bars-headers":
        headers[bars_headers.TARGET_IDENTIFIER] = bars_headers.encode(
            {"value": known.service_dos, "system": DOS_SYSTEM})
        headers[bars_headers.END_USER_ORGANISATION] = bars_headers.encode(
            {"resourceType": "Organization", "identifier": [{"system": ODS_SYSTEM, "value": known.practice_ods}],
             "name": "Riverside Medical Practice"})
    return headers


@pytest.mark.parametrize("variant", ["message-only", "bars-headers"])
@pytest.mark.parametrize("example", BOOKINGS)
async def test_a_published_booking_books_end_to_end_through_the_broker(tmp_path, reference_dir, example, variant):
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        known = await known_values(client, urls, nth_slot=3)
        message = rewrite_values(_load(reference_dir, example), known)
        r = await client.post(f"{urls.broker}/$process-message", json=message, headers=_headers(known, variant))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert schema.errors(answer) == []
        header = answer["entry"][0]["resource"]
        assert header["response"] == {"identifier": message["id"], "code": "ok"}
        ubrn = _ubrn(answer)
        assert ubrn and len(ubrn) == 12

        # The UBRN at the spine, the appointment at the trust, the confirmation at the practice.
        spine = (await client.get(f"{urls.spine}/Appointment/{ubrn}")).json()
        assert spine["status"] == "booked"
        by_ubrn = {"identifier": f"{UBRN_SYSTEM}|{ubrn}"}
        pas = (await client.get(f"{urls.pas}/{known.trust_ods}/Appointment", params=by_ubrn)).json()
        assert [e["resource"]["status"] for e in pas["entry"]] == ["booked"]
        assert pas["entry"][0]["resource"]["slot"][0]["reference"] == f"Slot/{known.slot_id}"
        gp = (await client.get(f"{urls.gp}/{known.practice_ods}/Appointment", params=by_ubrn)).json()
        assert [e["resource"]["status"] for e in gp["entry"]] == ["booked"]

        rec, doc = await run_job(client, ReconcileJob(urls=urls, settle_s=5))
        assert doc["discrepancies"] == [] and rec.checked == 1


@pytest.mark.parametrize("example", BOOKINGS)
async def test_a_published_booking_books_straight_at_a_trust_without_a_ubrn(tmp_path, reference_dir, example):
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        known = await known_values(client, urls, nth_slot=5)
        message = rewrite_values(_load(reference_dir, example), known)
        r = await client.post(f"{urls.pas}/{known.trust_ods}/$process-message", json=message, headers=FHIR)
        assert r.status_code == 200, r.text
        assert schema.errors(r.json()) == []
        assert _ubrn(r.json()) is None
        slot = (await client.get(f"{urls.pas}/{known.trust_ods}/Slot/{known.slot_id}")).json()
        assert slot["status"] == "busy"
        booked = (await client.get(f"{urls.pas}/{known.trust_ods}/Appointment")).json()["entry"]
        assert [(e["resource"]["status"], e["resource"]["slot"][0]["reference"]) for e in booked] == \
            [("booked", f"Slot/{known.slot_id}")]
        # Reconciled on the trust's own Appointment id: known to the trust alone, and said so.
        _rec, doc = await run_job(client, ReconcileJob(urls=urls, settle_s=5))
        assert [(d["kind"], d["ubrn"]) for d in doc["discrepancies"]] == \
            [("missing_at_broker", f"pas:{known.trust_ods}/Appointment/{booked[0]['resource']['id']}")]


@pytest.mark.parametrize("example", NOT_R4)
@pytest.mark.parametrize("target", ["broker", "pas"])
async def test_a_published_message_that_is_not_r4_gets_a_precise_400(tmp_path, reference_dir, example, target):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        known = await known_values(client, urls, nth_slot=1)
        message = rewrite_values(_load(reference_dir, example), known)
        url = f"{urls.broker}/$process-message" if target == "broker" else \
            f"{urls.pas}/{known.trust_ods}/$process-message"
        r = await client.post(url, json=message, headers=_headers(known, "message-only"))
        assert r.status_code == 400, r.text
        issue = r.json()["issue"][0]
        # The published responses leave out Appointment.participant.status, which R4 requires.
        assert any(e.startswith("Bundle.entry[1].resource.participant[0].status") for e in issue["expression"])


async def test_a_booking_from_a_practice_the_broker_cannot_answer_books_nothing(tmp_path, reference_dir):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        known = await known_values(client, urls, nth_slot=2)
        known.practice_dos = dos_id("practice", "Y99999")   # no such practice
        message = rewrite_values(_load(reference_dir, BOOKINGS[0]), known)
        r = await client.post(f"{urls.broker}/$process-message", json=message, headers=_headers(known, "message-only"))
        assert r.status_code == 422, r.text
        issue = r.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[0].resource.source.endpoint"]
        assert issue["details"]["coding"][0] == {"system": BARS_ERROR_SYSTEM, "code": "REC_UNPROCESSABLE_ENTITY"}
        journal = (await client.get(f"{urls.broker}/journal", params={"_count": 1000})).json()["entries"]
        assert not [e for e in journal if e["event"] in ("allocate-ubrn", "booking-request")
                    and not e["link"].startswith("gp:")]
        slot = (await client.get(f"{urls.pas}/{known.trust_ods}/Slot/{known.slot_id}")).json()
        assert slot["status"] == "free"


@pytest.mark.parametrize("target", ["broker", "pas"])
async def test_the_same_bundle_id_with_other_content_is_refused_not_answered_stale(tmp_path, reference_dir, target):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        known = await known_values(client, urls, nth_slot=4)
        first = rewrite_values(_load(reference_dir, BOOKINGS[0]), known)
        url = f"{urls.broker}/$process-message" if target == "broker" else \
            f"{urls.pas}/{known.trust_ods}/$process-message"
        headers = _headers(known, "message-only")
        assert (await client.post(url, json=first, headers=headers)).status_code == 200
        again = await client.post(url, json=first, headers=headers)
        assert again.status_code == 200
        corrected = json.loads(json.dumps(first))
        other = await known_values(client, urls, nth_slot=6)
        for entry in corrected["entry"]:
            if entry["resource"]["resourceType"] in ("Slot", "Appointment"):
                entry["resource"]["start"], entry["resource"]["end"] = other.slot_start, other.slot_end
        r = await client.post(url, json=corrected, headers=headers)
        assert r.status_code == 409, r.text
        issue = r.json()["issue"][0]
        assert issue["code"] == "duplicate" and "already used" in issue["diagnostics"]
        assert issue["details"]["coding"][0]["code"] == "REC_CONFLICT"
