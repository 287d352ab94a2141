"""A booking waiting in the middleware's queue holds its slot against the real legacy PAS (its SQR
carries QAK-4, the hit count the search's `total` comes from): the slot is not offered, `total` is one
less (once, whether or not the PAS has the booking yet), and a second booking of it is a 409.

Two ways a booking waits: the spine gone (its look-up is tried again; the PAS has not seen the
booking), and a slow PAS (LEGACY_PAS_ACK_DELAY_MS on the PAS's virtual clock: the booking is in the
PAS's book and the ACK not yet written). Each with the slot on the first page and beyond it."""

from __future__ import annotations

import asyncio

import pytest

from party_common.identifiers import ubrn_from_sequence
from tests.middleware.helpers import ODS, booking, post, slot_id
from tests.middleware.legacy_pair import JANUARY, LegacyPair, legacy_pair

pytestmark = [pytest.mark.timeout(120), pytest.mark.sockets]

PAGE = 10
# Slot 0 is on the first page the PAS lists; slot 20 beyond it (the PAS lists PAGE + 2 at most).
ON_PAGE, BEYOND = 0, 20


async def _until(condition) -> None:
    # Polls a state; the test's timeout bounds it, never a wall-clock threshold.
    while not await condition():
        await asyncio.sleep(0.01)


async def _held(pair: LegacyPair, k: int, before: tuple[int | None, list[str], int]) -> None:
    """While booking 1 of slot k waits: not offered, counted out once, a second booking refused."""
    total0, ids0, _ = before
    total, ids, pages = await pair.walk(JANUARY, PAGE)
    assert ids == [i for i in ids0 if i != slot_id(k)]
    assert total == total0 - 1 == len(ids), (total, total0, len(ids))
    assert pages > 1
    counted = (await pair.client.get(f"/{ODS}/Slot", params=[*JANUARY, ("_count", "0")])).json()
    assert counted["total"] == total0 - 1
    second = await post(pair.client, booking(2, k))
    assert second.status_code == 409, second.text
    issue = second.json()["issue"][0]
    assert issue["code"] == "conflict" and issue["details"]["coding"][0]["code"] == "REC_CONFLICT"


async def _booked_once(pair: LegacyPair, k: int, before: tuple[int | None, list[str], int]) -> None:
    """At the PAS now, held no more: still not offered, still counted out once, in the PAS's book once."""
    total0, ids0, _ = before
    assert await pair.mw.state.forwarder.queue.held_slots(ODS) == set()
    total, ids, _ = await pair.walk(JANUARY, PAGE)
    assert ids == [i for i in ids0 if i != slot_id(k)] and total == total0 - 1
    assert [(a["ubrn"], a["slot_id"], a["status"]) for a in await pair.appointments()] == [
        (ubrn_from_sequence(1), slot_id(k), "booked")]


@pytest.mark.parametrize("queue", ["memory", "persistent"])
@pytest.mark.parametrize("k", [ON_PAGE, BEYOND])
async def test_a_booking_waiting_for_the_spine_holds_its_slot(tmp_path, queue, k):
    # The look-up is tried again every 50 ms of system time: how long the spine is gone is the test's
    # doing (it waits for nothing timed), only the retry's pace is the clock's.
    async with legacy_pair(tmp_path, queue=queue, spine_retry_s=0.05) as pair:
        before = await pair.walk(JANUARY, PAGE)
        assert before[0] == len(before[1]) == 120 and slot_id(k) in before[1]
        pair.spine.down = True
        assert (await post(pair.client, booking(1, k))).status_code == 200
        await _held(pair, k, before)
        assert await pair.appointments() == []   # the PAS has not seen it
        pair.spine.down = False
        assert await pair.settled(1) == {"acked": 1}
        await _booked_once(pair, k, before)


@pytest.mark.parametrize("queue", ["memory", "persistent"])
@pytest.mark.parametrize("k", [ON_PAGE, BEYOND])
async def test_a_booking_whose_ack_is_slow_holds_its_slot_and_is_counted_out_once(tmp_path, queue, k):
    # The PAS books at once and answers 30 s later on its clock; the middleware's clock does not move,
    # so its ACK timeout cannot fire meanwhile. The slot is then both booked at the PAS (not listed,
    # not in QAK-4) and held here: counted out once, not twice.
    async with legacy_pair(tmp_path, pas={"clock": "virtual", "ack_delay_ms": 30_000}, clock="virtual",
                           queue=queue, spine_lookup=False) as pair:
        before = await pair.walk(JANUARY, PAGE)
        pas_clock = pair.pas.state.clock
        assert (await post(pair.client, booking(1, k))).status_code == 200

        async def in_the_pas_book_unanswered() -> bool:
            return pas_clock.sleepers == 1 and len(await pair.appointments()) == 1

        await _until(in_the_pas_book_unanswered)
        await _held(pair, k, before)
        await pas_clock.advance_by(30)

        async def acked() -> bool:
            return (await pair.client.get("/queue")).json()["settled"] == {"acked": 1}

        await _until(acked)
        await _booked_once(pair, k, before)
