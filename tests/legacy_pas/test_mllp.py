"""The legacy PAS over a real MLLP socket: booking, refusals, cancelling, free-slot queries, referrals,
resends and malformed messages (docs/legacy-pas.md)."""

from __future__ import annotations

import asyncio

import pytest
from hl7.mllp import open_hl7_connection

from .helpers import (
    FIRST_SLOT, ODS, SECOND_SLOT, appointments, ack, connection, err_location, exchange, free_slot_ids, i12, msh,
    legacy_pas, s12, s15, s25, send,
)

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(60)]


async def test_a_booking_is_acknowledged_and_in_the_extract(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        answer = await exchange(port, s12("C1", "UBRN-1"))
        assert ack(answer) == ("AA", "C1")
        assert str(answer.extract_field("MSH", 1, 9, 1, 1)) == "ACK"
        assert str(answer.extract_field("MSH", 1, 12, 1, 1)) == "2.4"
        [row] = await appointments(client)
        assert (row["trust_ods"], row["ubrn"], row["slot_id"], row["status"]) == (ODS, "UBRN-1", FIRST_SLOT, "booked")
        assert (row["start"], row["end"], row["nhs_number"]) == ("2027-01-04T09:00:00Z", "2027-01-04T09:15:00Z",
                                                                  "9990000018")
        csv = await client.get("/extract/appointments")
        assert csv.headers["content-type"].startswith("text/csv")
        header, line = csv.text.strip().split("\r\n")
        assert header.split(",")[:3] == ["trust_ods", "filler_id", "ubrn"]
        assert f",UBRN-1,9990000018,rt9-rt901-cardiology,{FIRST_SLOT}," in line


async def test_malformed_messages_are_rejected_and_the_connection_kept(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        async with connection(port) as (reader, writer):
            garbage = await send(reader, writer, "this is not HL7", raw=True)
            assert ack(garbage)[0] == "AR"
            old = await send(reader, writer, msh("SIU^S12^SIU_S12", "V1", version="2.3"))
            assert ack(old) == ("AR", "V1") and err_location(old) == "MSH^1^12"
            unknown = await send(reader, writer, msh("ADT^A01^ADT_A01", "T1"))
            assert ack(unknown) == ("AR", "T1") and err_location(unknown) == "MSH^1^9"
            no_patient = await send(reader, writer, s12("P1", "UBRN-1").replace("9990000018", "1234567890"))
            assert ack(no_patient) == ("AR", "P1") and err_location(no_patient) == "PID^1^3"
            writer.writeblock(b"MSH|^~\\&|\xff\xfe")
            assert ack(await asyncio.wait_for(reader.readmessage(), 30))[0] == "AR"
            # The same connection still books, a name outside ASCII included.
            assert ack(await send(reader, writer, s12("C1", "UBRN-1").replace("Alex", "Zoë"))) == ("AA", "C1")
        assert len(await appointments(client)) == 1


async def test_a_taken_or_unknown_slot_or_service_is_refused_naming_the_field(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        async with connection(port) as (reader, writer):
            assert ack(await send(reader, writer, s12("C1", "UBRN-1")))[0] == "AA"
            taken = await send(reader, writer, s12("C2", "UBRN-2"))
            assert ack(taken) == ("AE", "C2") and err_location(taken) == "AIL^1^3"
            unknown_slot = await send(reader, writer, s12("C3", "UBRN-3", slot_id="rt9-rt901-cardiology-202701040905"))
            assert ack(unknown_slot) == ("AE", "C3") and err_location(unknown_slot) == "AIL^1^3"
            unknown_service = await send(reader, writer, s12("C4", "UBRN-4", slot_id=SECOND_SLOT, service="rt9-x"))
            assert ack(unknown_service) == ("AE", "C4") and err_location(unknown_service) == "AIS^1^3"
        assert [r["ubrn"] for r in await appointments(client)] == ["UBRN-1"]


async def test_a_cancel_frees_the_slot_and_an_unknown_one_is_refused(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        async with connection(port) as (reader, writer):
            assert ack(await send(reader, writer, s12("C1", "UBRN-1")))[0] == "AA"
            assert ack(await send(reader, writer, s15("X1", "UBRN-1"))) == ("AA", "X1")
            [row] = await appointments(client)
            assert row["status"] == "cancelled"
            assert FIRST_SLOT in free_slot_ids(await send(reader, writer, s25("Q1")))
            unknown = await send(reader, writer, s15("X2", "UBRN-NONE"))
            assert ack(unknown) == ("AE", "X2") and err_location(unknown) == "SCH^1^1"
            # The freed slot can be booked again.
            assert ack(await send(reader, writer, s12("C2", "UBRN-2")))[0] == "AA"
        assert [(r["ubrn"], r["status"]) for r in await appointments(client)] == [
            ("UBRN-1", "cancelled"), ("UBRN-2", "booked")]


def hits(answer) -> tuple[int, int, int]:
    """QAK-4 hit count total, QAK-5 this payload, QAK-6 hits remaining."""
    return tuple(int(str(answer.extract_field("QAK", 1, n, 1, 1))) for n in (4, 5, 6))  # type: ignore[return-value]


async def test_the_free_slot_query_leaves_out_booked_slots_and_keeps_to_its_count(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, _client, port):
        async with connection(port) as (reader, writer):
            before = await send(reader, writer, s25("Q1", count=3))
            assert str(before.extract_field("MSH", 1, 9, 1, 1)) == "SQR"
            assert ack(before) == ("AA", "Q1")
            assert str(before.extract_field("QAK", 1, 1, 1, 1)) == "Q-Q1"
            assert str(before.extract_field("QAK", 1, 2, 1, 1)) == "OK"
            assert free_slot_ids(before) == [FIRST_SLOT, SECOND_SLOT, "rt9-rt901-cardiology-202701040930"]
            assert ack(await send(reader, writer, s12("C1", "UBRN-1")))[0] == "AA"
            after = await send(reader, writer, s25("Q2", count=3))
            assert free_slot_ids(after) == [SECOND_SLOT, "rt9-rt901-cardiology-202701040930",
                                            "rt9-rt901-cardiology-202701040945"]
            # A Wednesday has no clinic.
            none = await send(reader, writer, s25("Q3", start="20270106000000+0000", end="20270107000000+0000"))
            assert str(none.extract_field("QAK", 1, 2, 1, 1)) == "NF" and free_slot_ids(none) == []
            # QRD-7 is a limit: more than there are gives them all; none at all is not a count.
            everything = await send(reader, writer, s25("Q4", count=5000, start="", end=""))
            assert len(free_slot_ids(everything)) == 26 * 2 * 4 - 1  # half a year of Mondays and Tuesdays
            assert hits(everything) == (26 * 2 * 4 - 1, 26 * 2 * 4 - 1, 0)
            # QAK-4 counts every free slot of the window, QAK-5 those listed, QAK-6 the rest; the
            # booked slot is not counted.
            assert hits(before)[1:] == (3, hits(before)[0] - 3) and hits(after) == (hits(before)[0] - 1, 3,
                                                                                   hits(before)[0] - 4)
            assert hits(none) == (0, 0, 0)
            zero = await send(reader, writer, s25("Q5", count=0))
            assert ack(zero) == ("AR", "Q5") and err_location(zero) == "QRD^1^7"


async def test_a_resend_of_a_control_id_gets_the_first_answer_and_books_once(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        first = await exchange(port, s12("C1", "UBRN-1"))
        again = await exchange(port, s12("C1", "UBRN-1"))
        assert ack(first) == ("AA", "C1")
        assert str(again) == str(first)  # the original ACK, its own control id and time included
        assert len(await appointments(client)) == 1
        # A refusal is kept too: the slot freed since does not change the answer to the same message.
        refused = await exchange(port, s12("C2", "UBRN-2"))
        assert ack(refused)[0] == "AE"
        assert ack(await exchange(port, s15("X1", "UBRN-1")))[0] == "AA"
        assert str(await exchange(port, s12("C2", "UBRN-2"))) == str(refused)
        assert [r["ubrn"] for r in await appointments(client)] == ["UBRN-1"]


async def test_a_referral_is_kept_once(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        assert ack(await exchange(port, i12("R1", "REF-1"))) == ("AA", "R1")
        assert ack(await exchange(port, i12("R2", "REF-1"))) == ("AA", "R2")
        r = await client.get("/extract/referrals", params={"format": "json"})
        [row] = r.json()
        assert (row["trust_ods"], row["referral_id"], row["practice_ods"], row["service_id"]) == (
            ODS, "REF-1", "Y12345", "rt9-rt901-cardiology")
        assert ack(await exchange(port, i12("R4", "REF-2", service_in_prd=True)))[0] == "AA"
        r = await client.get("/extract/referrals", params={"format": "json"})
        assert [(row["referral_id"], row["practice_ods"], row["service_id"]) for row in r.json()] == [
            ("REF-1", "Y12345", "rt9-rt901-cardiology"), ("REF-2", "Y12345", "rt9-rt901-cardiology")]
        no_id = await exchange(port, i12("R3", ""))
        assert ack(no_id) == ("AR", "R3") and err_location(no_id) == "RF1^1^6"


async def test_concurrent_bookings_of_one_slot_book_it_once(sqlite_url):
    async with legacy_pas(sqlite_url) as (_app, client, port):
        answers = await asyncio.gather(*(exchange(port, s12(f"C{i}", f"UBRN-{i}")) for i in range(8)))
        codes = sorted(ack(a)[0] for a in answers)
        assert codes == ["AA"] + ["AE"] * 7
        assert len(await appointments(client)) == 1


async def test_the_pas_stops_with_a_connection_still_open(sqlite_url):
    async with legacy_pas(sqlite_url) as (app, _client, port):
        reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8")
        assert ack(await send(reader, writer, s12("C1", "UBRN-1")))[0] == "AA"
    # The PAS has stopped (the test's timeout guards a hang): its end of the connection is closed.
    assert await asyncio.wait_for(reader.read(), 30) == b""
    writer.close()
