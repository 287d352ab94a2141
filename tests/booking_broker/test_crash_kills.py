"""Twenty kill -9 of the broker at random points of a reliable run with drops (issue 13).

The four parties run as processes on loopback, as `testbed up` runs them. Practices book without
pause (each `$book` asked again, as a practice would, until it gets an answer that is not a 5xx) and
cancel a quarter of their bookings at once, while the fault engine drops messages to the trusts and
practices, and the broker is killed with
SIGKILL twenty times, each time after a number of delivered messages drawn by a seeded RNG (counted
in its journal, not by the clock), then started again on the same database and port. After every
restart the delivery mode and the fault plan read back as they were set. When the run has drained:

- the reconciler finds no discrepancy at all: nothing lost at a trust, the spine or a practice,
  nothing doubled at a trust, and every booking a practice was given a UBRN for is in the ledger;
- one booking per practice request: no referral and no request Bundle has two ledger entries, and
  every booking a practice cancelled is over in the ledger (cancelled, or refused by its trust when
  the cancel overtook a booking-request still being retried), and no other is cancelled;
- every UBRN in use was allocated by the spine, for the same patient, and names one booking at
  every party;
- the journal, crash after crash, has each sequence number once, holds the drops that were injected,
  and scores the reconciler at precision = recall = 1.0.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import StackUrls
from harness.run.error_rates import read_journal
from harness.reconcile import ReconcileJob, run_job
from harness.reconcile.sources import wait_settled
from harness.run.workload import (
    HEADERS,
    Workload,
    _ubrn_of,
    discover,
    referral_request,
    request_id,
)
from party_common.control_auth import CONTROL_TOKEN_ENV
from tests.e2e.test_sockets import _free_ports

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

SEED = int(os.environ.get("CRASH_SEED", "20261306"))
KILLS = int(os.environ.get("CRASH_KILLS", "20"))
# Delivered messages between a restart and the next kill: a few bookings' worth at most.
GAP = (2, 24)
AFTER_LAST = 15          # delivered messages after the last restart before the practices stop
PRACTICES = 4            # practices booking at once
CANCELLED = 0.25         # of the bookings, the share a practice cancels at once
PLAN = {"seed": 1306, "rules": [
    # By event: a dropped slot search would be a refusal, not a fault this test is about.
    {"id": "drop-pas", "link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.3},
    {"id": "drop-pas-cancel", "link": "broker->pas:*", "event": "booking-cancel", "action": "drop",
     "probability": 0.3},
    {"id": "drop-gp", "link": "broker->gp:*", "action": "drop", "probability": 0.2},
]}


@dataclass
class Run:
    stack: EmbeddedStack
    urls: StackUrls
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    broker_up: asyncio.Event = field(default_factory=asyncio.Event)
    booked: dict[str, str] = field(default_factory=dict)      # referral id -> UBRN the practice was given
    late: list[str] = field(default_factory=list)             # referrals booked, answer lost to a crash
    cancelled: set[str] = field(default_factory=set)          # UBRNs the practices cancelled
    refused: Counter = field(default_factory=Counter)
    retries: int = 0
    delivered: int = 0
    since: int = 0
    plan: dict | None = None                                  # GET /faults once the plan was set
    restarts: list[tuple[dict, dict]] = field(default_factory=list)   # (GET /delivery, GET /faults) after each


async def _book(run: Run, client: httpx.AsyncClient, workload: Workload, index: int) -> None:
    """One practice booking: a referral, then `$book` until an answer that is not a 5xx. The practice
    resends its unanswered request itself (same Bundle.id), so a broker that crashed after booking
    answers from its dedupe store."""
    practice, nhs, service, specialty, earliest = workload.plan(index)
    gp = f"{run.urls.gp}/{practice}"
    r = await client.post(f"{gp}/ServiceRequest", json=referral_request(nhs, specialty), headers=HEADERS)
    assert r.status_code == 201, r.text
    referral_id = r.json()["id"]
    lost_slot = 0
    while True:
        params = {"resourceType": "Parameters", "parameter": [
            {"name": "requestId", "valueString": request_id(SEED, "crash", index, lost_slot)},
            {"name": "service", "valueString": service},
            {"name": "start",
             "valueDateTime": (earliest + timedelta(hours=lost_slot)).isoformat().replace("+00:00", "Z")}]}
        r = await _answered(run, client, f"{gp}/ServiceRequest/{referral_id}/$book", params)
        if r.status_code == 200:
            ubrn = run.booked[referral_id] = _ubrn_of(r)
            if random.Random(f"{SEED}:{index}:cancel").random() < CANCELLED:
                await _cancel(run, client, gp, ubrn, request_id(SEED, "crash-cancel", index, 0))
            return
        if r.status_code == 409 and "already has a booking" in r.text:
            # Booked before a crash took the answer; the outbox told the practice meanwhile.
            run.late.append(referral_id)
            return
        if r.status_code == 409 and lost_slot < 5:
            lost_slot += 1     # the slot went to another practice: look an hour further on
            continue
        run.refused[f"{r.status_code} {r.json()['issue'][0]['diagnostics'][:60]}"] += 1
        return


async def _cancel(run: Run, client: httpx.AsyncClient, gp: str, ubrn: str, key: str) -> None:
    """The practice cancels the booking it was just given (its trust may not have it yet: the broker
    sends each booking's messages in order)."""
    params = {"resourceType": "Parameters", "parameter": [{"name": "requestId", "valueString": key}]}
    r = await _answered(run, client, f"{gp}/Appointment/{ubrn}/$cancel", params)
    if r.status_code == 200 or (r.status_code == 409 and "already cancelled" in r.text):
        run.cancelled.add(ubrn)
    else:
        # The trust refused the booking meanwhile: there is nothing to cancel.
        run.refused[f"cancel {r.status_code}"] += 1


async def _answered(run: Run, client: httpx.AsyncClient, url: str, params: dict) -> httpx.Response:
    """POSTs `params` until the answer is not a 5xx (nor a dropped connection), waiting for the broker
    to be back between tries, as a practice asks again after an unknown outcome."""
    for _ in range(400):
        try:
            r = await client.post(url, json=params, headers=HEADERS)
            if r.status_code < 500:
                return r
        except httpx.HTTPError:
            pass
        run.retries += 1
        await run.broker_up.wait()
        await asyncio.sleep(0.05)
    pytest.fail(f"POST {url} never got an answer that was not a 5xx")


async def _practices(run: Run, client: httpx.AsyncClient, workload: Workload) -> int:
    counter = iter(range(10**6))

    async def practice():
        while not run.stop.is_set():
            await _book(run, client, workload, next(counter))

    await asyncio.gather(*(practice() for _ in range(PRACTICES)))
    return next(counter)


async def _count_delivered(run: Run, client: httpx.AsyncClient) -> None:
    """Moves `run.delivered` on by the delivered attempts journaled since the last look."""
    try:
        r = await client.get(f"{run.urls.broker}/journal", params={"since": run.since, "_count": 10000})
    except httpx.HTTPError:
        return
    if r.status_code == 200:
        body = r.json()
        run.delivered += sum(1 for e in body["entries"] if e.get("delivered"))
        run.since = body["last"]


async def _until_delivered(run: Run, client: httpx.AsyncClient, target: int) -> None:
    deadline = time.monotonic() + 240
    while run.delivered < target:
        assert time.monotonic() < deadline, f"the run stalled at {run.delivered} delivered messages"
        await asyncio.sleep(0.05)
        await _count_delivered(run, client)


async def _kill_and_restart(run: Run, client: httpx.AsyncClient) -> None:
    proc = run.stack.processes["broker"]
    run.broker_up.clear()
    os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait, 30)
    run.stack.spawn("broker")
    await asyncio.to_thread(run.stack.wait_healthy, ["broker"])
    delivery = (await client.get(f"{run.urls.broker}/delivery")).json()
    plan = (await client.get(f"{run.urls.broker}/faults")).json()
    run.restarts.append((delivery, plan))
    run.broker_up.set()


async def _killer(run: Run, client: httpx.AsyncClient) -> None:
    rng = random.Random(SEED)
    for _ in range(KILLS):
        await _until_delivered(run, client, run.delivered + rng.randint(*GAP))
        await _kill_and_restart(run, client)
    await _until_delivered(run, client, run.delivered + AFTER_LAST)
    run.stop.set()


def _rows(db, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.timeout(900)
def test_twenty_kills_of_the_broker_lose_double_and_forget_nothing(tmp_path):
    urls = StackUrls.local(ports=dict(zip(("broker", "spine", "pas", "gp"), _free_ports(4))))
    data = tmp_path / "data"
    env = {CONTROL_TOKEN_ENV: "", "BROKER_DELIVERY": "fire-and-forget", "BROKER_OUTBOX_MAX_BACKOFF_S": "0.3",
           "SPINE_POPULATION_SIZE": "200", "GP_POPULATION_SIZE": "200"}
    with EmbeddedStack(urls, data_dir=data, log_dir=tmp_path / "logs", extra_env=env) as stack:
        run = Run(stack, urls)
        asyncio.run(_drive(run))
        rec, doc = asyncio.run(_reconcile(urls))
        journal = doc["journal"]

    decisions = Counter(e.get("decision") for e in journal)
    print(f"kills {len(run.restarts)}, bookings {len(run.booked)} answered + {len(run.late)} answered late, "
          f"cancelled {len(run.cancelled)}, refused {dict(run.refused)}, retries {run.retries}, delivered {run.delivered}, "
          f"journal {len(journal)} entries, decisions {dict(decisions)}, ledger {len(rec.sources['broker'])}")

    # Delivery mode and fault plan intact after every restart (the settings say fire-and-forget, no rules).
    assert len(run.restarts) == KILLS
    for delivery, plan in run.restarts:
        assert delivery == {"mode": "reliable"}
        assert plan == run.plan

    # The run did what it set out to: bookings through crashes, drops injected and retried.
    assert len(run.booked) + len(run.late) >= KILLS, (run.booked, run.late, run.refused)
    assert run.retries > 0
    assert decisions["drop"] > 0, decisions

    ledger = _rows(data / "booking_broker.db", "SELECT ubrn, nhs_number, referral_id, request_bundle_id, status "
                   "FROM ledger")
    # Reconciliation: 0 lost, 0 doubled, nothing else either.
    assert rec.discrepancies == [], rec.to_json(limit=20)["discrepancies"]
    score = doc["score"]
    missed = {u for u, *_ in score["missed"] + score["spurious"]}
    assert (score["precision"], score["recall"]) == (1.0, 1.0), (
        score, [e for e in journal if e.get("ubrn") in missed], [r for r in ledger if r[0] in missed])
    seqs = [e["seq"] for e in journal]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs), "a journal sequence number was reused"

    # One booking per practice request; every UBRN a practice was given is in the ledger.
    by_ubrn = {row[0]: row for row in ledger}
    for referral_id, ubrn in run.booked.items():
        assert by_ubrn.get(ubrn, (None,) * 3)[2] == referral_id, f"UBRN {ubrn} of referral {referral_id} was lost"
    ledger_referrals = {row[2] for row in ledger}
    assert set(run.late) <= ledger_referrals
    # Every booking a practice cancelled is over at the broker: cancelled, or refused by its trust (a
    # booking-request dropped until its slot was another's, while the cancel overtook it); the
    # reconciliation above has every party agreeing to that. Nothing else is cancelled.
    ended = {row[0]: row[4] for row in ledger if row[0] in run.cancelled}
    assert run.cancelled and set(ended) == run.cancelled and set(ended.values()) <= {"cancelled", "rejected"}, ended
    assert {row[0] for row in ledger if row[4] == "cancelled"} <= run.cancelled
    for column, name in ((2, "referral"), (3, "request Bundle")):
        doubled = [k for k, n in Counter(row[column] for row in ledger).items() if n > 1]
        assert not doubled, f"{name}s booked twice: {doubled[:5]}"

    # No UBRN spent twice: each one in use was allocated once by the spine, to that patient, and
    # names one booking at each party (a second record of it would be in `extra`).
    allocated = dict(_rows(data / "spine_mock.db", "SELECT ubrn, nhs_number FROM ubrn_allocations"))
    for ubrn, nhs_number, *_ in ledger:
        assert allocated.get(ubrn) == nhs_number, f"UBRN {ubrn} was not allocated to {nhs_number} by the spine"
    for party, records in rec.sources.items():
        assert not records.extra, f"the {party} holds one UBRN on two bookings: {list(records.extra)[:5]}"
        assert set(records.first) <= set(by_ubrn), f"the {party} holds UBRNs the ledger does not"


async def _drive(run: Run) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        assert (await client.put(f"{run.urls.broker}/faults", json=PLAN)).status_code == 200
        assert (await client.put(f"{run.urls.broker}/delivery", json={"mode": "reliable"})).status_code == 200
        run.plan = (await client.get(f"{run.urls.broker}/faults")).json()
        assert [r["id"] for r in run.plan["rules"]] == ["drop-pas", "drop-pas-cancel", "drop-gp"]
        population = await discover(client, run.urls, patients_per_practice=50)
        workload = Workload(run.urls, population, seed=SEED, bookings=0)
        run.broker_up.set()
        practices = asyncio.create_task(_practices(run, client, workload))
        try:
            await _killer(run, client)
        finally:
            run.stop.set()
        await practices


async def _reconcile(urls: StackUrls):
    async with httpx.AsyncClient(timeout=60) as client:
        note = await wait_settled(client, urls.broker, 300)
        assert note is None, note
        journal = await read_journal(client, urls.broker)
        rec, doc = await run_job(client, ReconcileJob(urls, journal=journal, settle_s=60))
    return rec, {**doc, "journal": journal}
