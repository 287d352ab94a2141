"""A real SIGKILL of the middleware (uvicorn in its own process) while bookings wait for the legacy PAS,
in both queue modes, restarted on the same database and port: the memory queue loses exactly what
was queued and not yet ACKed; the persistent queue loses nothing and sends it again (same control id)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from party_common.fhir_json import FHIR_JSON
from party_common.identifiers import ubrn_from_sequence
from tests.middleware.helpers import ODS, START, TRUSTS, booking

pytestmark = [pytest.mark.timeout(120), pytest.mark.sockets]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Middleware:
    """The middleware as `uvicorn --factory middleware.app:create_app` runs it, started and killed by the test."""

    def __init__(self, tmp_path, pas_address: str, queue: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "middleware.log"
        self.env = {**os.environ,
                    "MIDDLEWARE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'mw.db'}",
                    "MIDDLEWARE_TRUSTS": json.dumps(TRUSTS), "MIDDLEWARE_CALENDAR_START": START.isoformat(),
                    "MIDDLEWARE_HORIZON_DAYS": "28", "MIDDLEWARE_PAS_MLLP": json.dumps({ODS: pas_address}),
                    "MIDDLEWARE_QUEUE": queue, "MIDDLEWARE_SPINE_LOOKUP": "false",
                    # Long enough that the message in flight is still waiting when the kill comes.
                    "MIDDLEWARE_ACK_TIMEOUT_S": "600", "MIDDLEWARE_LOG_LEVEL": "WARNING"}
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "middleware.app:create_app", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def start(self, client: httpx.AsyncClient) -> None:
        self.spawn()
        assert self.proc is not None
        while True:   # the test's timeout bounds the wait
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if (await client.get(f"{self.url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


@asynccontextmanager
async def running_middleware(tmp_path, pas, queue: str):
    mw = Middleware(tmp_path, pas.address, queue)
    async with httpx.AsyncClient(headers={"Accept": FHIR_JSON}, timeout=30) as client:
        try:
            await mw.start(client)
            yield mw, client
        finally:
            mw.stop()


async def _post(client, mw, n: int) -> None:
    r = await client.post(f"{mw.url}/{ODS}/$process-message", content=orjson.dumps(booking(n, n)),
                          headers={"Content-Type": FHIR_JSON})
    assert r.status_code == 200, r.text


async def _wait(check) -> None:
    while not await check():   # the test's timeout bounds the wait
        await asyncio.sleep(0.02)


async def _queue(client, mw) -> dict:
    return (await client.get(f"{mw.url}/queue")).json()


async def _kill_with_three_waiting(pas, mw, client) -> str:
    """Books 1 and 2 (ACKed), then 3, 4, 5 while the PAS answers nothing; kills the middleware once 3 is
    on the wire and 4, 5 wait behind it. Returns 3's control id."""
    for n in (1, 2):
        await _post(client, mw, n)

    async def two_acked():
        return len(pas.booked) == 2 and (await _queue(client, mw)).get("depth") == 0
    await _wait(two_acked)
    pas.silent = 1000
    for n in (3, 4, 5):
        await _post(client, mw, n)

    async def third_on_the_wire():
        return len(pas.bookings()) == 3
    await _wait(third_on_the_wire)
    mw.kill()
    pas.silent = 0
    return pas.bookings()[-1][1]


async def test_a_kill_loses_exactly_what_the_memory_queue_held(tmp_path, pas):
    async with running_middleware(tmp_path, pas, "memory") as (mw, client):
        await _kill_with_three_waiting(pas, mw, client)
        await mw.start(client)
        assert (await _queue(client, mw))["depth"] == 0
        # First in, first out: once a later booking is ACKed, nothing of before the kill is left to come.
        await _post(client, mw, 6)

        async def sixth_booked():
            return ubrn_from_sequence(6) in pas.booked.values()
        await _wait(sixth_booked)
        assert sorted(pas.booked.values()) == [ubrn_from_sequence(n) for n in (1, 2, 6)]
        lost = {ubrn_from_sequence(n) for n in (3, 4, 5)}
        assert lost.isdisjoint(pas.booked.values())


async def test_a_kill_loses_nothing_of_the_persistent_queue(tmp_path, pas):
    async with running_middleware(tmp_path, pas, "persistent") as (mw, client):
        in_flight = await _kill_with_three_waiting(pas, mw, client)
        await mw.start(client)

        async def all_booked():
            return len(pas.booked) == 5
        await _wait(all_booked)
        assert sorted(pas.booked.values()) == sorted(ubrn_from_sequence(n) for n in range(1, 6))
        # The message on the wire at the kill went again under its control id.
        assert [c for _, c in pas.bookings()].count(in_flight) == 2

        async def drained():   # the PAS books before it answers: the last ACK may not be read yet
            return (await _queue(client, mw))["depth"] == 0
        await _wait(drained)
        assert (await _queue(client, mw))["settled"] == {"acked": 5}
