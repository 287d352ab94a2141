"""Property: under any fault plan, the reconciler finds every loss the journal says was injected,
and reports nothing else (precision and recall 1.0)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.booking_broker import direct_driver as dd
from tests.reconcile.helpers import cancel, configure, reconcile
from tests.stack_inprocess import inprocess_stack

LINKS = ["broker->pas:*", "broker->spine", "broker->gp:*", "gp:*->broker"]
ACTIONS = [
    {"action": "drop"}, {"action": "lose-ack"}, {"action": "duplicate"}, {"action": "corrupt"},
    {"action": "error"}, {"action": "error", "status": 422}, {"action": "timeout"},
    {"action": "reorder", "max_hold_ms": 100}, {"action": "delay", "ms": 5},
]
REFUSALS = ({"action": "corrupt"}, {"action": "error", "status": 422})


@st.composite
def plans(draw):
    delivery = draw(st.sampled_from(["fire-and-forget", "reliable"]))
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(ACTIONS))
        link = draw(st.sampled_from(LINKS))
        # On the trust links, booking messages only: a fault on the broker's directory and slot
        # reads would starve the driver of slots rather than lose a booking.
        event = draw(st.sampled_from(["booking-*" if link == "broker->pas:*" else None,
                                      "booking-request", "booking-cancel"]))
        if delivery == "reliable" and action in REFUSALS and link == "broker->pas:*":
            # A trust refusing a cancellation in reliable mode leaves the broker's own records at
            # odds (see the report): not a fault the reconciler is being marked on here.
            event = "booking-request"
        rule = {"link": link, "action": action["action"], "probability": draw(st.sampled_from([0.2, 0.4, 0.6])),
                **{k: v for k, v in action.items() if k != "action"}}
        if event:
            rule["event"] = event
        rules.append(rule)
    return {"delivery": delivery, "rules": rules, "dedupe": draw(st.booleans()),
            "bookings": draw(st.integers(8, 20)), "cancels": draw(st.integers(0, 3)), "seed": draw(st.integers(0, 999))}


async def _run(plan: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        async with inprocess_stack(Path(tmp), population_size=80, pas_overrides={"dedupe": plan["dedupe"]},
                                   broker_overrides={"reliable_wait_s": 10}) as (urls, client, _):
            await configure(client, urls, plan["seed"], plan["rules"], plan["delivery"])
            results = await dd.drive(client, urls, bookings=plan["bookings"], seed=plan["seed"], concurrency=4)
            await dd.wait_drained(client, urls)
            booked = [u for _, status, u in results if status == 200 and u]
            for ubrn in booked[: plan["cancels"]]:
                await cancel(client, urls, ubrn)
            await dd.wait_drained(client, urls)
            _, doc, journal = await reconcile(client, urls, dedupe=plan["dedupe"])
            return doc


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans())
def test_every_injected_loss_is_found_and_nothing_else(plan):
    doc = asyncio.run(_run(plan))
    score = doc["score"]
    assert (score["precision"], score["recall"]) == (1.0, 1.0), (plan, score)
