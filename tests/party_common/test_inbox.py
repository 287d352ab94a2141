"""Inbox: one transaction per message, repeats answered from the store, refusals remembered."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import insert, select

from party_common.database import Database
from party_common.inbox import Inbox
from party_common.messaging import BOOKING_REQUEST, MessageBuilder, Org
from party_common.outcome import FhirError, business_rule

from .conftest import Note, ProcessedMessage, count_notes

SENDER = Org("Y00001", "100000001", "Sender")
INBOX = Org("Y00002", "100000002", "Inbox")


def _message(bundle_id: str = "b-1", header_id: str = "h-1", text: str = "hello") -> dict:
    b = MessageBuilder(bundle_id)
    focus = b.add("note", {"resourceType": "Basic", "id": text})
    sender = b.org(SENDER)
    return b.build(BOOKING_REQUEST, sender=sender, receiver=b.org(INBOX), destination=INBOX.endpoint,
                   focus=[focus], source=SENDER, header_id=header_id)


def _inbox(db: Database, calls: list[str], *, refuse_after_write: bool = False,
           dedupe: bool = True) -> Inbox:
    async def handler(session, msg):
        calls.append(msg.bundle_id)
        text = msg.resources[0]["id"]
        await session.execute(insert(Note), {"id": f"{msg.bundle_id}-{len(calls)}", "text": text})
        if refuse_after_write:
            raise business_rule("not this one", "Bundle.entry[1].resource")
        return [{"resourceType": "Basic", "id": text}]

    return Inbox(db, ProcessedMessage, {BOOKING_REQUEST: handler}, responder=INBOX, dedupe=dedupe)


async def test_a_repeat_is_answered_from_the_store_and_changes_nothing(db):
    calls: list[str] = []
    inbox = _inbox(db, calls)
    status, first = await inbox.process_encoded(_message())
    # Built again from the same facts (new timestamps): the same message.
    again_status, again = await inbox.process_encoded(_message())
    assert (status, again_status) == (200, 200)
    assert again == first
    assert calls == ["b-1"]
    assert await count_notes(db) == 1
    answer = orjson.loads(first)
    assert answer["entry"][0]["resource"]["response"] == {"identifier": "b-1", "code": "ok"}
    assert answer["entry"][1]["resource"] == {"resourceType": "Basic", "id": "hello"}


async def test_the_same_header_under_a_new_bundle_id_is_the_same_message(db):
    calls: list[str] = []
    inbox = _inbox(db, calls)
    status, first = await inbox.process_encoded(_message())
    again_status, again = await inbox.process_encoded(_message(bundle_id="b-2"))
    assert (status, again_status) == (200, 200)
    assert again == first
    assert calls == ["b-1"]
    assert await count_notes(db) == 1


@pytest.mark.parametrize("bundle_id", ["b-1", "b-2"])
async def test_an_id_reused_for_a_different_message_is_refused_and_changes_nothing(db, bundle_id):
    calls: list[str] = []
    inbox = _inbox(db, calls)
    await inbox.process_encoded(_message())
    # The same Bundle.id (or the same MessageHeader.id under another Bundle.id) saying something else.
    with pytest.raises(FhirError) as caught:
        await inbox.process_encoded(_message(bundle_id=bundle_id, text="changed"))
    assert caught.value.status == 409
    issue = caught.value.outcome()["issue"][0]
    assert issue["code"] == "duplicate" and issue["expression"] == ["Bundle.id"]
    assert issue["details"]["coding"][0]["code"] == "REC_CONFLICT"
    assert calls == ["b-1"]
    assert await count_notes(db) == 1
    # The first message's answer still stands for a true repeat.
    status, _ = await inbox.process_encoded(_message())
    assert status == 200 and calls == ["b-1"]


async def test_a_refusal_undoes_the_handlers_writes_and_is_repeated(db):
    calls: list[str] = []
    inbox = _inbox(db, calls, refuse_after_write=True)
    with pytest.raises(FhirError) as caught:
        await inbox.process_encoded(_message())
    assert caught.value.status == 422
    # The repeat gets the same status and OperationOutcome, from the store: the handler is not run.
    status, body = await inbox.process_encoded(_message())
    assert (status, orjson.loads(body)) == (422, caught.value.outcome())
    assert calls == ["b-1"]
    assert await count_notes(db) == 0
    async with db.engine.connect() as conn:
        stored = (await conn.execute(select(ProcessedMessage.__table__))).one()
    assert stored.status_code == 422
    assert orjson.loads(stored.response)["issue"][0]["code"] == "business-rule"


async def test_without_dedupe_every_copy_is_applied(db):
    calls: list[str] = []
    inbox = _inbox(db, calls, dedupe=False)
    await inbox.process_encoded(_message())
    await inbox.process_encoded(_message())
    assert calls == ["b-1", "b-1"]
    assert await count_notes(db) == 2


async def test_process_still_answers_with_a_dict(db):
    status, body = await _inbox(db, []).process(_message())
    assert status == 200 and body["resourceType"] == "Bundle"
