"""Parsing and validating a large request body on a worker thread, so the event loop (and `/health`
with it) keeps answering while a body near the size limit is read.

A body of more than `<P>_PARSE_THREAD_BYTES` (64 KiB by default) is parsed and validated on a
thread; a smaller one inline, where it costs less than the hop to a thread and back. At most
`<P>_PARSE_THREADS` bodies are parsed at once: the others wait their turn, so fifty large bodies
arriving together take that many threads, not fifty, and do not crowd out the database's threads.
(The R4B models are pure Python and hold the GIL, so more threads would not parse faster anyway: the
point is that the loop gets its turns while they work.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from starlette.requests import Request

T = TypeVar("T")

DEFAULT_PARSE_THREAD_BYTES = 64 * 1024
DEFAULT_PARSE_THREADS = 2


def _limiter(request: Request, threads: int) -> CapacityLimiter:
    # One limiter an app, made on first use (on the app's loop); an app is served by one loop.
    state = request.app.state
    limiter = getattr(state, "parse_limiter", None)
    if limiter is None:
        limiter = state.parse_limiter = CapacityLimiter(threads)
    return limiter


async def parse_sized(request: Request, size: int, parse: Callable[..., T], *args: Any) -> T:
    """`parse(*args)`: inline for a body of `size` bytes up to the party's threshold, else on a worker
    thread of the app's bounded pool. Exceptions (a FhirError for a bad body) come back as raised."""
    settings = getattr(request.app.state, "settings", None)
    threshold = getattr(settings, "parse_thread_bytes", DEFAULT_PARSE_THREAD_BYTES)
    if size <= threshold:
        return parse(*args)
    threads = getattr(settings, "parse_threads", DEFAULT_PARSE_THREADS)
    return await to_thread.run_sync(parse, *args, limiter=_limiter(request, threads))
