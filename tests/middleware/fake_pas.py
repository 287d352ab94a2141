"""A small HL7 v2 PAS for the middleware's tests, on `hl7.mllp.start_hl7_server`: books a slot on
SIU^S12 (AE when it is taken), cancels on S15, answers SQM^S25 with the free slots of its calendar,
and answers a repeated control id with its first answer. The test chooses how it misbehaves: a
set of control ids whose first `silent` deliveries get no answer (the ACK timeout), refusals, and
`ack_delay_s` (on the middleware's clock) before it answers a booking it has already done, as the
slow legacy PAS does (LEGACY_PAS_ACK_DELAY_MS)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import hl7
from hl7.mllp import start_hl7_server

from party_common.clock import Clock
from party_common.trusts.catalogue import Trust
from party_common.trusts.schedule import minute_to_datetime

from middleware.v2 import minute_time, parse_v2_time


@dataclass
class FakePas:
    trust: Trust
    booked: dict[str, str] = field(default_factory=dict)      # slot id -> UBRN
    received: list[tuple[str, str]] = field(default_factory=list)   # (message type, control id)
    answers: dict[str, str] = field(default_factory=dict)     # control id -> the answer given
    silent: int = 0          # this many messages (SIU) get no answer at all
    ack_delay_s: float = 0.0  # a booking (SIU) is done at once and answered this long after, on `clock`
    written: int = 0         # answers written
    port: int = 0
    clock: Clock | None = None   # the middleware's, in-process: calls counted as a party counts them
    _server: asyncio.AbstractServer | None = None
    _connections: set[asyncio.Task] = field(default_factory=set)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def bookings(self) -> list[tuple[str, str]]:
        """(message type, control id) of every SIU received, repeats included."""
        return [r for r in self.received if r[0].startswith("SIU")]

    async def start(self) -> None:
        self._server = await start_hl7_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # A connection asleep on an ACK delay the test's clock never reached would outlive the test.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _client(self, reader, writer) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while not reader.at_eof():
                message = await reader.readmessage()
                if self.clock is not None:
                    self.clock.calls_received += 1
                answer = self.answer(message)
                if answer is not None:
                    if self.ack_delay_s and self.clock is not None and str(message.segment("MSH")[9]).startswith("SIU"):
                        await self.clock.sleep(self.ack_delay_s)
                    writer.writeblock(answer.encode())
                    await writer.drain()
                    self.written += 1
                    if self.clock is not None:
                        self.clock.calls_answered += 1
        writer.close()

    def answer(self, m: hl7.Message) -> str | None:
        kind = str(m.segment("MSH")[9])
        control = str(m.segment("MSH")[10])
        self.received.append((kind, control))
        if control in self.answers:
            return self.answers[control]
        if kind.startswith("SIU") and self.silent > 0:
            self.silent -= 1
            return None
        if kind.startswith("SIU^S12"):
            slot, ubrn = str(m.segment("AIL")[3]), str(m.segment("SCH")[1])
            code = "AE" if self.booked.get(slot, ubrn) != ubrn else "AA"
            if code == "AA":
                self.booked[slot] = ubrn
        elif kind.startswith("SIU^S15"):
            ubrn = str(m.segment("SCH")[1])
            slots = [s for s, u in self.booked.items() if u == ubrn]
            code = "AA" if slots else "AE"
            for s in slots:
                del self.booked[s]
        elif kind.startswith("SQM"):
            return self._sqr(m, control)
        else:
            code = "AA"
        text = self._msh("ACK", control) + f"MSA|{code}|{control}\r" + ("ERR|^^^207&refused\r" if code == "AE" else "")
        self.answers[control] = text
        return text

    def _msh(self, kind: str, control: str) -> str:
        return f"MSH|^~\\&|LEGACY-PAS|{self.trust.ods}|TESTBED-MW|{self.trust.ods}|20270101000000+0000||{kind}|A{control}|P|2.4\r"

    def _sqr(self, m: hl7.Message, control: str) -> str:
        service = self.trust.services[str(m.segment("AIS")[3])]
        window = m.segment("ARQ")[11][0]
        low, high = parse_v2_time(str(window[3])), parse_v2_time(str(window[4]))
        count = int(str(m.segment("QRD")[7][0][0]))
        t = service.template
        out = []
        k = t.ordinal_at_or_after(int(low.timestamp()) // 60)
        while len(out) < count and k < t.stop and minute_to_datetime(t.start_minute(k)) < high:
            slot_id = service.slot_id(k)
            if slot_id not in self.booked:
                s, e = t.start_minute(k), t.end_minute(k)
                out.append(f"SCH||{slot_id}|||||||||^^{e - s}^{minute_time(s)}^{minute_time(e)}"
                           + "|" * 14 + "FREE\rRGS|1\r"
                           f"AIS|1||{service.id}|{minute_time(s)}\rAIL|1||{slot_id}\r")
            k += 1
        return (self._msh("SQR^S25^SQR_S25", control) + f"MSA|AA|{control}\r"
                + f"QAK|{control}|{'OK' if out else 'NF'}\r" + "".join(out))
