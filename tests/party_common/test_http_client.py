"""party_client over real sockets: failures keep httpx's classes, JSON bodies, trace headers."""

from __future__ import annotations

import asyncio
import socket

import httpx
import orjson
import pytest

from party_common.correlation import correlation_id_var
from party_common.http_client import party_client


class FakeServer:
    """A loopback HTTP/1.1 server whose behaviour per path is chosen by the test."""

    def __init__(self):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "FakeServer":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                fields = (line.partition(":") for line in lines[1:] if line)
                headers = {name.strip().lower(): value.strip() for name, _, value in fields}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((path, headers, body))
                if path == "/drop":
                    writer.close()
                    return
                if path == "/silent":
                    await asyncio.sleep(5)
                    return
                answer = orjson.dumps({"path": path})
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(answer)).encode() + b"\r\n\r\n" + answer)
                await writer.drain()
                if path.startswith("/bye"):
                    # Closed without a `Connection: close`, as a server that restarts or times out does.
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_refused_connection_is_a_connect_error_not_a_timeout():
    async with party_client(timeout=2) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(f"http://127.0.0.1:{_closed_port()}/x")
    assert not isinstance(caught.value, httpx.TimeoutException)


async def test_a_dropped_connection_is_a_transport_error_not_a_timeout():
    async with FakeServer() as server, party_client(timeout=2) as client:
        with pytest.raises(httpx.TransportError) as caught:
            await client.post(f"{server.url}/drop", content=b"{}")
    assert not isinstance(caught.value, httpx.TimeoutException)


async def test_a_kept_alive_connection_the_server_closed_is_not_a_failure():
    async with FakeServer() as server, party_client(timeout=2) as client:
        for i in range(20):
            r = await (client.post(f"{server.url}/bye/{i}", content=b"{}") if i % 2
                       else client.get(f"{server.url}/bye/{i}"))
            assert r.status_code == 200
    # Each request reached the server once: a retry only goes when the first try never left.
    assert [path for path, _, _ in server.requests] == [f"/bye/{i}" for i in range(20)]


async def test_no_answer_in_time_is_a_read_timeout():
    async with FakeServer() as server, party_client(timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/silent")


CORRELATION = "0f8fad5b-d9cb-469f-a165-70867728950e"


async def test_json_bodies_and_trace_headers_go_out_and_answers_come_back():
    token = correlation_id_var.set(CORRELATION)
    try:
        async with FakeServer() as server, party_client(timeout=2) as client:
            plain = await client.post(f"{server.url}/a", json={"name": "é", "n": [1, 2]})
            fhir = await client.post(f"{server.url}/b", json={"resourceType": "Bundle"},
                                     headers={"Content-Type": "application/fhir+json"})
            again = await client.get(f"{server.url}/c")
    finally:
        correlation_id_var.reset(token)
    assert [r.json() for r in (plain, fhir, again)] == [{"path": "/a"}, {"path": "/b"}, {"path": "/c"}]
    (_, a_headers, a_body), (_, b_headers, b_body), (_, c_headers, _) = server.requests
    assert orjson.loads(a_body) == {"name": "é", "n": [1, 2]}
    assert a_headers["content-type"] == "application/json"
    assert b_headers["content-type"] == "application/fhir+json"
    assert b_body == b'{"resourceType":"Bundle"}'
    assert {h["x-correlation-id"] for h in (a_headers, b_headers, c_headers)} == {CORRELATION}
    assert c_headers["accept"] == "application/fhir+json"
