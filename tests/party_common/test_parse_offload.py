"""A large body is parsed and validated on a worker thread: `/health` answers while it is, at every
party, over a real socket. No clock decides anything here: the test holds the large bodies' validation
open (a gate in `validate_resource`) until `/health` has answered, so it answers *during* their
validation or not at all."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager

import httpx
import orjson
import pytest
import uvicorn

from party_common import fhir_json
from tests.e2e.test_sockets import _free_ports
from tests.party_common.test_body_limit import FHIR, PARTIES

pytestmark = pytest.mark.sockets

LIMIT = 256 * 1024
THREADS = 2


def _message(bundle_id: str, size: int) -> bytes:
    """A message Bundle of about `size` bytes (valid R4B; its event is one no party handles, so it is
    refused with a 4xx once read: what matters here is the reading)."""
    bundle = {"resourceType": "Bundle", "type": "message", "id": bundle_id, "entry": [
        {"fullUrl": "urn:uuid:0c1b3e1c-4b8a-4e0e-9f6e-1c2d3e4f5a6b",
         "resource": {"resourceType": "MessageHeader", "id": bundle_id, "eventCoding": {"code": "no-such-event"},
                      "source": {"endpoint": "https://test.invalid"}}},
        {"fullUrl": "urn:uuid:1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
         "resource": {"resourceType": "Basic", "code": {"text": ""}}}]}
    shell = orjson.dumps(bundle)
    return shell.replace(b'"text":""', b'"text":"' + b"x" * (size - len(shell)) + b'"')


class Gate:
    """Wraps `validate_resource`: a body whose id starts with `held-` waits for `release`; the
    thread each body was validated on is noted."""

    def __init__(self, real):
        self.real = real
        self.lock = threading.Lock()
        self.entered = self.finished = self.inside = self.most_inside = 0
        self.release = threading.Event()
        self.threads: dict[str, threading.Thread] = {}

    def __call__(self, data, expected=None):
        bundle_id = data.get("id", "") if isinstance(data, dict) else ""
        self.threads[bundle_id] = threading.current_thread()
        if not bundle_id.startswith("held-"):
            return self.real(data, expected)
        with self.lock:
            self.entered += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            # Bounded only so that a broken party cannot hang the test: released by the test at once.
            self.release.wait(timeout=120)
            return self.real(data, expected)
        finally:
            with self.lock:
                self.inside -= 1
                self.finished += 1


@contextmanager
def _serving(name: str, tmp_path, **settings):
    """The party under uvicorn on a loopback port, in a thread of this process (so the gate reaches it)."""
    create_app, settings_class, path = PARTIES[name]
    port = _free_ports(1)[0]
    app = create_app(settings_class(database_url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db", population_size=50,
                                    log_level="WARNING", max_body_bytes=LIMIT, parse_threads=THREADS, **settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", path, thread
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def _until(condition, what: str):
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
def gate(monkeypatch) -> Gate:
    g = Gate(fhir_json.validate_resource)
    monkeypatch.setattr(fhir_json, "validate_resource", g)
    yield g
    g.release.set()


@pytest.mark.parametrize("name", PARTIES)
async def test_health_answers_while_large_bodies_are_being_validated(name, tmp_path, gate):
    with _serving(name, tmp_path) as (base, path, loop_thread):
        async with httpx.AsyncClient(base_url=base, headers=FHIR, timeout=120) as http:
            big = [asyncio.create_task(http.post(path, content=_message(f"held-{i}", LIMIT - 100)))
                   for i in range(THREADS + 1)]
            # As many as the party parses at once are inside validation, held there.
            await _until(lambda: gate.entered == THREADS, "large bodies reached validation")
            health = await http.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert gate.finished == 0, "a large body's validation ended before /health answered"
            # A small body still goes through the loop and is answered meanwhile.
            small = await http.post(path, content=_message("small", 2000))
            assert 400 <= small.status_code < 500 and small.json()["resourceType"] == "OperationOutcome"
            assert gate.finished == 0
            gate.release.set()
            answers = await asyncio.gather(*big)
    for r in answers:
        assert 400 <= r.status_code < 500 and r.json()["resourceType"] == "OperationOutcome", r.text
    assert gate.entered == gate.finished == THREADS + 1
    # The third waited for a thread: no more than THREADS bodies were ever validated at once.
    assert gate.most_inside == THREADS
    assert all(gate.threads[f"held-{i}"] is not loop_thread for i in range(THREADS + 1))
    assert gate.threads["small"] is loop_thread


async def test_with_inline_parsing_health_waits_for_the_large_body(tmp_path, gate):
    """The same probe, parsing on the loop (`parse_thread_bytes` at the limit): /health gets no answer
    while a large body is held in validation, so the test above would see a blocked loop."""
    with _serving("spine", tmp_path, parse_thread_bytes=LIMIT) as (base, path, loop_thread):
        async with httpx.AsyncClient(base_url=base, headers=FHIR, timeout=120) as http:
            big = asyncio.create_task(http.post(path, content=_message("held-0", LIMIT - 100)))
            await _until(lambda: gate.entered == 1, "the large body reached validation")
            # Not a race: the loop is held until the gate opens, which only this test does, after this.
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/health", timeout=1)
            gate.release.set()
            assert (await big).status_code < 500
            assert (await http.get("/health")).status_code == 200
    assert gate.threads["held-0"] is loop_thread


def test_each_party_reads_its_parse_settings_from_its_own_prefix(monkeypatch):
    from gp_system.settings import Settings as GpSettings
    from party_common.parse_offload import DEFAULT_PARSE_THREAD_BYTES, DEFAULT_PARSE_THREADS
    from trust_pas.settings import Settings as PasSettings

    monkeypatch.setenv("PAS_PARSE_THREAD_BYTES", "1000")
    monkeypatch.setenv("PAS_PARSE_THREADS", "3")
    assert (PasSettings().parse_thread_bytes, PasSettings().parse_threads) == (1000, 3)
    assert (GpSettings().parse_thread_bytes, GpSettings().parse_threads) == (64 * 1024, 2)
    assert (DEFAULT_PARSE_THREAD_BYTES, DEFAULT_PARSE_THREADS) == (64 * 1024, 2)
    monkeypatch.setenv("GP_PARSE_THREADS", "0")
    with pytest.raises(ValueError):
        GpSettings()
