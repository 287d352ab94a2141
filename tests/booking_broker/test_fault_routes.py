"""The broker's control API (faults, delivery), journal, outbox and metrics, and each action end to end."""

from __future__ import annotations

import re
from collections import Counter

from tests.booking_broker import direct_driver as dd
from tests.stack_inprocess import inprocess_stack


async def test_rules_can_be_added_listed_replaced_removed_and_reset(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = urls.broker
        r = await client.post(f"{b}/faults", json={"link": "broker->pas:*", "action": "delay", "ms": 5,
                                                   "probability": 0.5})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert r.json()["params"] == {"ms": 5}
        listed = (await client.get(f"{b}/faults")).json()
        assert [x["id"] for x in listed["rules"]] == [rid]
        r = await client.put(f"{b}/faults/{rid}", json={"link": "broker->spine", "action": "drop"})
        assert r.status_code == 200 and r.json()["link"] == "broker->spine" and r.json()["id"] == rid
        assert (await client.delete(f"{b}/faults/{rid}")).json()["rules"] == []
        assert (await client.delete(f"{b}/faults/{rid}")).status_code == 404
        await client.post(f"{b}/faults", json={"link": "x", "action": "drop"})
        r = await client.post(f"{b}/faults/reset", json={"seed": 9})
        assert r.json() == {"seed": 9, "rules": []}


async def test_bad_control_requests_get_operation_outcomes(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = urls.broker
        r = await client.post(f"{b}/faults", json={"link": "x", "action": "explode"})
        assert r.status_code == 422 and "unknown action" in r.json()["issue"][0]["diagnostics"]
        r = await client.post(f"{b}/faults", json={"action": "drop"})
        assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["rule.link"]
        r = await client.put(f"{b}/faults", json={"seed": 1, "rules": [{"link": "x", "action": "drop",
                                                                      "probability": 2}]})
        assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["rules[0].probability"]
        r = await client.post(f"{b}/faults", content=b"{nope", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
        r = await client.put(f"{b}/delivery", json={"mode": "carrier-pigeon"})
        assert r.status_code == 400
        assert (await client.get(f"{b}/journal", params={"since": -1})).status_code == 400
        for path, body in ((f"{b}/faults/reset", {"seed": False}), (f"{b}/faults", {"seed": True, "rules": []})):
            r = await (client.post if path.endswith("reset") else client.put)(path, json=body)
            assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["seed"], (path, r.text)


# What a web page may send to another site without a CORS preflight: text/plain, a form, or no body.
CROSS_SITE = [({"Content-Type": "text/plain"}, b'{"link": "broker->pas:*", "action": "drop"}'),
              ({"Content-Type": "application/x-www-form-urlencoded"}, b"link=broker-%3Epas%3A%2A&action=drop"),
              ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--\r\n"),
              ({}, b"")]


async def test_control_requests_a_web_page_could_send_cross_site_are_refused_and_change_nothing(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        b = urls.broker
        r = await client.put(f"{b}/faults", json={"seed": 4, "rules": [{"link": "x", "action": "drop"}]})
        assert r.status_code == 200
        before = (await client.get(f"{b}/faults")).json()
        for method, path in [("POST", "/faults"), ("PUT", "/faults"), ("PUT", "/faults/replay"), ("PUT", "/faults/r1"),
                             ("POST", "/faults/reset"), ("PUT", "/delivery")]:
            for headers, body in CROSS_SITE:
                r = await client.request(method, f"{b}{path}", content=body, headers=headers)
                assert r.status_code == 415, (method, path, headers, r.text)
                assert r.json()["resourceType"] == "OperationOutcome"
                assert r.json()["issue"][0]["code"] == "not-supported"
        assert (await client.get(f"{b}/faults")).json() == before
        assert (await client.get(f"{b}/delivery")).json() == {"mode": "fire-and-forget"}
        # JSON, as the harness sends it, still works; a reset needs no body, only the content type.
        r = await client.post(f"{b}/faults/reset", content=b"", headers={"Content-Type": "application/json"})
        assert r.status_code == 200 and r.json() == {"seed": 4, "rules": []}


async def test_journal_pages_and_metrics_count_by_link_event_action_outcome(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->gp:*", "action": "drop", "nth": [1]}]})
        await dd.drive(client, urls, bookings=6, seed=1)
        page1 = (await client.get(f"{urls.broker}/journal", params={"_count": 10})).json()
        assert len(page1["entries"]) == 10 and "next" in page1
        page2 = (await client.get(page1["next"])).json()
        assert page2["entries"][0]["seq"] == page1["entries"][-1]["seq"] + 1
        entry = page1["entries"][0]
        assert set(entry) >= {"seq", "at", "link", "event", "message_id", "bundle_id", "ubrn", "decision",
                              "outcome", "latency_ms"}
        text = (await client.get(f"{urls.broker}/metrics")).text
        assert 'testbed_messages_total{action="drop",event="booking-request",link="broker->gp:' in text
        assert "testbed_delivery_latency_seconds_bucket" in text
        assert "testbed_outbox_depth 0.0" in text
        labels = [line[line.index("{"):line.index("}") + 1] for line in text.splitlines()
                  if line.startswith("testbed_") and "{" in line]
        assert labels and not any(re.search(r"\d{10}", label) for label in labels)  # no NHS number, no UBRN


async def test_journal_survives_a_broker_restart(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await dd.drive(client, urls, bookings=3, seed=1)
        before = (await client.get(f"{urls.broker}/journal")).json()["entries"]
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        after = (await client.get(f"{urls.broker}/journal")).json()
        assert after["entries"] == before
        await dd.drive(client, urls, bookings=1, seed=2)
        more = (await client.get(f"{urls.broker}/journal", params={"since": before[-1]["seq"]})).json()
        assert more["entries"][0]["seq"] == before[-1]["seq"] + 1


async def test_duplicate_reaches_the_receiver_twice_and_dedupe_keeps_one(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->pas:*", "event": "booking-request", "action": "duplicate", "copies": 3}]})
        await dd.drive(client, urls, bookings=4, seed=1)
        journal = await dd.journal(client, urls)
        copies = [e for e in journal if e["decision"] == "duplicate-copy"]
        assert len(copies) == 8 and all(e["delivered"] for e in copies)
        assert Counter(await dd.pas_ubrns(client, urls)) == Counter({u: 1 for u in set(await dd.pas_ubrns(client, urls))})
        assert len(await dd.pas_ubrns(client, urls)) == 4


async def test_corrupt_messages_are_rejected_by_the_receiver(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->pas:*", "event": "booking-request", "action": "corrupt"}]})
        results = await dd.drive(client, urls, bookings=3, seed=1)
        # The trust refused what arrived; fire-and-forget passes the refusal to the practice.
        assert {status for _, status, _ in results} == {400}
        entries = [e for e in await dd.journal(client, urls) if e["decision"] == "corrupt"]
        assert len(entries) == 3 and {e["outcome"] for e in entries} == {"rejected"}
        assert await dd.pas_ubrns(client, urls) == []


async def test_reorder_holds_a_message_until_the_next_one_on_its_link(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->spine", "event": "booking-request", "action": "reorder", "nth": [1],
             "max_hold_ms": 60000}]})
        await dd.drive(client, urls, bookings=2, seed=1, concurrency=1)
        journal = await dd.journal(client, urls)
        spine = [(e["event"], e["decision"], e["ubrn"]) for e in journal if e["link"] == "broker->spine"]
        held = spine[1][2]
        # UBRN 1, report 1 held; the next message on the link (UBRN 2) goes first, then report 1.
        assert [(ev, d) for ev, d, _ in spine] == [
            ("allocate-ubrn", "pass"), ("booking-request", "reorder"), ("allocate-ubrn", "pass"),
            ("booking-request", "release"), ("booking-request", "pass")]
        assert spine[3][2] == held and spine[4][2] != held
        first, second = held, spine[4][2]
        index = await dd.ubrns_at(client, f"{urls.spine}/Appointment")
        assert set(index) == {first, second}


async def test_faults_on_the_inbound_gp_link(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "gp:*->broker", "action": "error", "nth": [1], "status": 429, "code": "throttled"},
            {"link": "gp:*->broker", "action": "lose-ack", "nth": [2]},
            {"link": "gp:*->broker", "action": "outage", "nth": [3]}]})
        results = await dd.drive(client, urls, bookings=4, seed=1, concurrency=1)
        assert [status for _, status, _ in results] == [429, 504, 503, 200]
        ledger = await dd.ubrns_at(client, f"{urls.broker}/Appointment")
        assert len(ledger) == 2  # the lost-ack booking was made; the others never arrived


async def test_error_and_timeout_on_the_pas_link_are_journaled_as_not_delivered(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->pas:*", "event": "booking-request", "action": "error", "nth": [1]},
            {"link": "broker->pas:*", "event": "booking-request", "action": "timeout", "after_ms": 20}]})
        await dd.drive(client, urls, bookings=2, seed=1, concurrency=1)
        pas = [e for e in await dd.journal(client, urls)
               if e["link"].startswith("broker->pas:") and e["event"] == "booking-request"]
        assert [(e["decision"], e["outcome"], e["delivered"]) for e in pas] == [
            ("error", "failed", False), ("timeout", "timeout", False)]
        assert pas[1]["latency_ms"] == 0.0 or pas[1]["latency_ms"] >= 0
        assert await dd.pas_ubrns(client, urls) == []


async def test_resend_repairs_a_lost_booking_and_is_safe_to_repeat(tmp_path):
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        await client.put(f"{urls.broker}/faults", json={"seed": 1, "rules": [
            {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "nth": [1]}]})
        results = await dd.drive(client, urls, bookings=3, seed=1, concurrency=1)
        lost = results[0][2]
        assert lost not in await dd.pas_ubrns(client, urls)
        body = {"resourceType": "Parameters", "parameter": [{"name": "target", "valueCode": "pas"}]}
        for _ in range(2):
            r = await client.post(f"{urls.broker}/Appointment/{lost}/$resend", json=body,
                                  headers={"Content-Type": "application/fhir+json"})
            assert r.status_code == 200, r.text
            assert {p["name"]: p.get("valueBoolean") for p in r.json()["parameter"]}["delivered"] is True
        assert Counter(await dd.pas_ubrns(client, urls))[lost] == 1
        repairs = [e for e in await dd.journal(client, urls) if e["purpose"] == "repair"]
        assert len(repairs) == 2 and {e["ubrn"] for e in repairs} == {lost}
        bad = await client.post(f"{urls.broker}/Appointment/{lost}/$resend", headers={"Content-Type": "application/fhir+json"},
                                json={"resourceType": "Parameters", "parameter": [{"name": "target", "valueCode": "fax"}]})
        assert bad.status_code == 400
        missing = await client.post(f"{urls.broker}/Appointment/000000000000/$resend", json=body,
                                    headers={"Content-Type": "application/fhir+json"})
        assert missing.status_code == 404


async def test_ledger_bulk_export_is_ndjson_of_every_booking(tmp_path):
    import json

    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _):
        results = await dd.drive(client, urls, bookings=7, seed=2)
        r = await client.get(f"{urls.broker}/Appointment/$export")
        assert r.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert {a["identifier"][0]["value"] for a in lines} == {u for _, _, u in results}
        assert all(a["resourceType"] == "Appointment" for a in lines)
