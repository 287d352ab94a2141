"""The message log stays within its byte budget, oldest first out, and pages by journal sequence."""

from __future__ import annotations

import orjson

from party_common.links.message_log import MessageLog


def _body(i: int) -> dict:
    return {"resourceType": "Bundle", "id": f"b{i}", "entry": [{"resource": {"text": "x" * 2000}}]}


def test_the_log_holds_at_most_its_budget_and_drops_the_oldest():
    log = MessageLog(limit_bytes=1_000_000)
    for seq in range(1, 10_001):
        log.append(seq, "POST", "http://pas/$process-message", _body(seq))
        assert log.bytes <= 1_000_000
    assert 400 < len(log) < 500
    assert log.dropped == 10_000 - len(log)
    assert log.first_kept == 10_000 - len(log) + 1


def test_pages_return_the_bodies_as_sent_from_where_the_reader_left_off():
    log = MessageLog(limit_bytes=100_000)
    for seq in range(1, 101):
        log.append(seq, "POST", "u", _body(seq) if seq % 10 else None)  # no body, no row
    kept = log.first_kept
    page = orjson.loads(orjson.dumps({"messages": log.page(since=kept + 4, count=3)}))["messages"]
    assert [m["seq"] for m in page] == [s for s in range(kept + 5, 101) if s % 10][:3]
    assert page[0]["body"] == _body(page[0]["seq"])
    # Asking from before the oldest kept gives what is left, from the oldest.
    assert log.page(since=0, count=1)[0]["seq"] == kept


async def test_the_broker_serves_its_kept_bodies_and_says_what_rolled_off(tmp_path):
    import httpx

    from booking_broker.app import create_app
    from booking_broker.settings import Settings
    from tests.inprocess import running

    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db", require_trace_headers=False,
                              message_log_bytes=10_000))
    async with running(app):
        for seq in range(1, 21):
            app.state.courier.messages.append(seq, "POST", "u", _body(seq))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b.test") as c:
            page = (await c.get("/journal/messages", params={"since": 0})).json()
    assert page["rolled_off"] == 20 - len(page["messages"]) > 0
    assert page["first_kept"] == page["messages"][0]["seq"]
    assert page["messages"][-1]["body"] == _body(20)
