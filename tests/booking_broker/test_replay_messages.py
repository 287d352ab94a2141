"""`POST /faults/replay/messages`: recorded messages sent again by the broker with their recorded
decisions, in-process through the transport seam (tests/replay/test_replay_e2e.py does it over sockets
from `testbed replay --ubrn`)."""

from __future__ import annotations

from tests.stack_inprocess import inprocess_stack

RULES = [{"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.0}]


def _message(message_id: str, url: str) -> dict:
    # Not a booking the PAS can take: it refuses it, which is an answer the journal records all the same.
    return {"link": "broker->pas:RT1", "event": "booking-request", "url": url, "ubrn": "000000000001",
            "body": {"resourceType": "Bundle", "id": message_id, "type": "message",
                     "entry": [{"resource": {"resourceType": "MessageHeader", "id": message_id}}]}}


async def test_the_scripted_message_is_dropped_the_other_sent_and_the_brokers_own_state_is_untouched(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = urls.broker
        before = (await client.get(f"{b}/faults")).json()
        body = {"seed": 3, "rules": RULES,
                "decisions": [{"link": "broker->pas:RT1", "event": "booking-request", "message_id": "m1",
                               "rule_id": "r1"}],
                "messages": [_message("m1", f"{urls.pas}/RT1/$process-message"),
                             _message("m2", f"{urls.pas}/RT1/$process-message")]}
        r = await client.post(f"{b}/faults/replay/messages", json=body)
        assert r.status_code == 200, r.text
        journal = r.json()["journal"]
        assert [(e["message_id"], e["decision"], e["rule_id"]) for e in journal] == [("m1", "drop", "r1"),
                                                                                     ("m2", "pass", None)]
        assert journal[0]["outcome"] == "timeout" and journal[1]["status"] == 400
        # A probability of 0 decides nothing by itself: only the script dropped m1.
        r = await client.post(f"{b}/faults/replay/messages", json={**body, "decisions": []})
        assert [e["decision"] for e in r.json()["journal"]] == ["pass", "pass"]
        assert (await client.get(f"{b}/journal")).json()["entries"] == []
        assert (await client.get(f"{b}/faults")).json() == before


async def test_bad_requests_are_operation_outcomes_naming_the_element(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = f"{urls.broker}/faults/replay/messages"
        good = _message("m1", f"{urls.pas}/RT1/$process-message")
        cases = [({"messages": []}, 400, "messages"),
                 ({"messages": [{**good, "url": "file:///etc/passwd"}]}, 400, "messages.0.url"),
                 ({"messages": [good], "rules": [{"action": "drop"}]}, 400, "rules.0.link"),
                 ({"messages": [good], "colour": "red"}, 400, "colour")]
        for body, status, where in cases:
            r = await client.post(b, json=body)
            assert r.status_code == status and r.json()["issue"][0]["expression"] == [where], (body, r.text)
        r = await client.post(b, json={"messages": [good], "decisions": [
            {"link": "broker->pas:RT1", "event": "booking-request", "message_id": "m1", "rule_id": "r9"}]})
        assert r.status_code == 422 and "r9" in r.json()["issue"][0]["diagnostics"]


async def test_it_needs_the_control_token_when_the_stack_has_one(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50, broker_overrides={"control_token": "s3cret"}) as (
            urls, client, _):
        body = {"messages": [_message("m1", f"{urls.pas}/RT1/$process-message")]}
        r = await client.post(f"{urls.broker}/faults/replay/messages", json=body)
        assert r.status_code == 401
        r = await client.post(f"{urls.broker}/faults/replay/messages", json=body,
                              headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and len(r.json()["journal"]) == 1


async def test_the_harness_asks_for_it_through_the_transport_seam_and_a_refusal_is_one_line(tmp_path):
    import pytest

    from harness.stack.embedded import StackError
    from harness.replay.booking import resend_through
    from party_common.http_client import RoutingTransport

    routes = RoutingTransport()
    async with inprocess_stack(tmp_path, population_size=50, routes=routes) as (urls, _, _apps):
        body = {"seed": 3, "rules": RULES, "messages": [_message("m1", f"{urls.pas}/RT1/$process-message")],
                "decisions": [{"link": "broker->pas:RT1", "event": "booking-request", "message_id": "m1",
                               "rule_id": "r1"}]}
        journal = await resend_through(urls.broker, body, routes)
        assert [(e["message_id"], e["decision"], e["outcome"]) for e in journal] == [("m1", "drop", "timeout")]
        with pytest.raises(StackError, match=r"refused the replay \(HTTP 422\): .*r2"):
            await resend_through(urls.broker, {**body, "decisions": [{**body["decisions"][0], "rule_id": "r2"}]},
                                 routes)
