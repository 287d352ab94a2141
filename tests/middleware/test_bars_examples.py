"""The published BaRS messages (../shared/reference/bars-1.2.0), values changed to ones the middleware's
trust knows and structure untouched (tests/e2e/bars_examples.py), sent to the middleware's
`/{ODS}/$process-message` with the real legacy PAS behind it over MLLP:

- a published booking carrying its UBRN (as the broker sends it on) is answered `ok` with a response
  that passes the spec's MessageBundle schema and our booking-response profile, and is in the legacy
  PAS's own extract (it arrived as an SIU^S12 and was booked); sent again as cancelled, it is an
  SIU^S15 and the PAS's row is cancelled;
- as published, without a UBRN (the legacy PAS's placer id), it is refused 422 naming where the UBRN
  belongs, and nothing reaches the PAS;
- every published file gets a precise answer: never a 5xx, an OperationOutcome (passing the spec's
  schema) with the receiver's code for its status, and a 400 naming the element for what FHIR R4 refuses.
"""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from contracts.rules import violations
from party_common.identifiers import UBRN_SYSTEM, ubrn_from_sequence
from tests.e2e.bars_examples import Known, MessageSchema
from tests.e2e.test_reference_messages import judge_answer
from tests.inprocess import FHIR_HEADERS
from tests.middleware.helpers import ODS, SERVICE, patient
from tests.middleware.legacy_pair import LegacyPair, legacy_pair
from tests.middleware.published import BOOKINGS, known_at, published

pytestmark = [pytest.mark.timeout(120), pytest.mark.sockets]

NOT_R4 = ["process_message/POST-success.json", "process_message/response/Booking_HTTP_Response.json"]


async def _known(pair: LegacyPair, nth_slot: int, n: int = 1) -> Known:
    """The trust's service and its nth free slot as the legacy PAS lists it, a patient, the practice."""
    r = await pair.client.get(f"/{ODS}/Slot", params={"service": SERVICE, "status": "free", "_count": 20})
    assert r.status_code == 200, r.text
    slot = [e["resource"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Slot"][nth_slot]
    return known_at(ODS, SERVICE, slot, patient(n))


def _violations(answer: dict, request: dict, profile: str, **variables) -> list[str]:
    """What in an `ok` answer breaks our profile. The answer goes back to the request's sender as the
    request named it (party_common/responses.py), and the published examples name their sender
    Organization by name alone: that one Organization without an ODS code is the request's, not a
    fault of the answer, so its rule is held apart."""
    found = violations(answer, profile, request_id=request["id"], code="ok", event="booking-request", **variables)
    header = answer["entry"][0]["resource"]
    receiver = next(e["resource"] for e in answer["entry"]
                    if e["fullUrl"] == header["destination"][0]["receiver"]["reference"])
    sent_by = next(e["resource"] for e in request["entry"]
                   if e["fullUrl"] == request["entry"][0]["resource"]["sender"]["reference"])
    if "identifier" not in sent_by:
        assert receiver.get("name") == sent_by.get("name") and "identifier" not in receiver
        found = [v for v in found if not v.startswith("organizations-ods:")]
    return found


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


async def _post(pair: LegacyPair, message: dict):
    return await pair.client.post(f"/{ODS}/$process-message", content=orjson.dumps(message), headers=FHIR_HEADERS)


def _pas_journal(entries: list[dict]) -> list[tuple[str | None, str, str]]:
    return [(e["ubrn"], e["event"], e["outcome"]) for e in entries if e["link"] == f"middleware->pas:{ODS}"
            and e["event"] != "slot-search"]


@pytest.mark.parametrize("example", BOOKINGS)
async def test_a_published_booking_is_booked_at_the_legacy_pas_and_cancelled(tmp_path, reference_dir, example):
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    ubrn = ubrn_from_sequence(41)
    async with legacy_pair(tmp_path) as pair:
        known = await _known(pair, nth_slot=3)
        message = published(reference_dir, example, known, ubrn)
        r = await _post(pair, message)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert schema.errors(answer) == []
        assert _violations(answer, message, "booking-response", status="booked", slot_id=known.slot_id) == []

        assert await pair.settled(1) == {"acked": 1}
        [row] = await pair.appointments()
        assert (row["ubrn"], row["nhs_number"], row["service_id"], row["slot_id"], row["status"]) == (
            ubrn, known.nhs_number, SERVICE, known.slot_id, "booked")
        assert (_instant(row["start"]), _instant(row["end"])) == (_instant(known.slot_start),
                                                                 _instant(known.slot_end))
        assert (await pair.client.get(f"/{ODS}/Slot/{known.slot_id}")).json()["status"] == "busy"

        # BaRS cancels with the booking sent again, its Appointment cancelled (a new message).
        cancel = published(reference_dir, example, known, ubrn, "cancelled")
        r = await _post(pair, cancel)
        assert r.status_code == 200, r.text
        assert schema.errors(r.json()) == []
        assert _violations(r.json(), cancel, "response") == []
        assert await pair.settled(2) == {"acked": 2}
        assert [(a["ubrn"], a["status"]) for a in await pair.appointments()] == [(ubrn, "cancelled")]
        assert (await pair.client.get(f"/{ODS}/Slot/{known.slot_id}")).json()["status"] == "free"
        journal = (await pair.client.get("/journal")).json()["entries"]
        assert _pas_journal(journal) == [(ubrn, "booking-request", "delivered"), (ubrn, "booking-cancel", "delivered")]


@pytest.mark.parametrize("example", BOOKINGS)
async def test_a_published_booking_without_a_ubrn_is_refused_and_reaches_nothing(tmp_path, reference_dir, example):
    outcome_schema = MessageSchema(reference_dir / "schemas" / "OperationalOutcome.yaml")
    async with legacy_pair(tmp_path) as pair:
        known = await _known(pair, nth_slot=2)
        r = await _post(pair, published(reference_dir, example, known))
        assert r.status_code == 422, r.text
        body = r.json()
        assert violations(body, "outcome") == [] and outcome_schema.errors(body) == []
        issue = body["issue"][0]
        assert issue["code"] == "required" and issue["expression"] == ["Bundle.entry[1].resource.identifier"]
        assert UBRN_SYSTEM in issue["diagnostics"]
        queue = (await pair.client.get("/queue")).json()
        assert (queue["depth"], queue["settled"]) == (0, {})
        assert await pair.appointments() == []


async def test_a_second_published_booking_of_a_held_slot_is_a_409(tmp_path, reference_dir):
    async with legacy_pair(tmp_path, spine_retry_s=0.05) as pair:
        known = await _known(pair, nth_slot=4)
        pair.spine.down = True   # the first waits in the queue, its slot held
        first = published(reference_dir, BOOKINGS[0], known, ubrn_from_sequence(51))
        assert (await _post(pair, first)).status_code == 200
        second = published(reference_dir, BOOKINGS[1], known, ubrn_from_sequence(52))
        r = await _post(pair, second)
        assert r.status_code == 409, r.text
        issue = r.json()["issue"][0]
        assert issue["code"] == "conflict" and issue["details"]["coding"][0]["code"] == "REC_CONFLICT"
        assert issue["expression"][0].startswith("Bundle.entry[")
        pair.spine.down = False
        assert await pair.settled(1) == {"acked": 1}
        assert [a["ubrn"] for a in await pair.appointments()] == [ubrn_from_sequence(51)]


@pytest.mark.parametrize("example", NOT_R4)
async def test_a_published_message_that_is_not_r4_gets_a_precise_400(tmp_path, reference_dir, example):
    async with legacy_pair(tmp_path) as pair:
        known = await _known(pair, nth_slot=1)
        r = await _post(pair, published(reference_dir, example, known))
        assert r.status_code == 400, r.text
        issue = r.json()["issue"][0]
        # The published responses leave out Appointment.participant.status, which R4 requires.
        assert any(e.startswith("Bundle.entry[1].resource.participant[0].status") for e in issue["expression"])


async def test_every_published_file_gets_a_precise_answer(tmp_path, reference_dir):
    files = sorted(reference_dir.rglob("*.json"))
    assert len(files) >= 80
    outcome_schema = MessageSchema(reference_dir / "schemas" / "OperationalOutcome.yaml")
    statuses: dict[int, int] = {}
    async with legacy_pair(tmp_path) as pair:
        invalid_seen = 0
        for path in files:
            raw = path.read_bytes()
            r = await pair.client.post(f"/{ODS}/$process-message", content=raw, headers=FHIR_HEADERS)
            where = str(path.relative_to(reference_dir))
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            invalid_seen += judge_answer(r, raw, where)
            if r.status_code >= 400:
                body = r.json()
                assert violations(body, "outcome") == [], where
                assert outcome_schema.errors(body) == [], where
        assert invalid_seen >= 18
        # None of them is a message this trust can take as it stands (no UBRN, no known patient or slot).
        assert 200 not in statuses, statuses
        assert await pair.appointments() == []
