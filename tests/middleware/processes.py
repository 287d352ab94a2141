"""The middleware and the real legacy PAS as uvicorn processes on loopback ports (the embedded stack's
own way of starting them, harness/stack/embedded.py), without the other parties: for clients and
fuzzers that must meet them over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.stack.embedded import EmbeddedStack
from harness.stack.endpoints import StackUrls
from tests.e2e.test_sockets import _free_ports

LEGACY = ("legacy_pas", "middleware")


@contextmanager
def legacy_processes(tmp: Path, trusts: list[str], spine_url: str | None = None,
                     extra_env: dict[str, str] | None = None) -> Iterator[StackUrls]:
    """Both parties up (their /health answering) for the legacy `trusts`; stopped when the block ends.
    The URLs of the parties not started go nowhere; the spine's is `spine_url` when given."""
    mw, pas, mllp, *nowhere = (_free_ports(7))
    spare = [f"http://127.0.0.1:{p}" for p in nowhere]
    urls = StackUrls(broker=spare[0], spine=spine_url or spare[1], pas=spare[2], gp=spare[3],
                     middleware=f"http://127.0.0.1:{mw}", legacy_pas=f"http://127.0.0.1:{pas}")
    stack = EmbeddedStack(urls, tmp / "data", tmp / "logs", legacy_trusts=trusts, mllp_port=mllp,
                          extra_env=extra_env or {})
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in LEGACY:
            stack.spawn(name)
        stack.wait_healthy(list(LEGACY))
        yield urls
    finally:
        stack.stop()
