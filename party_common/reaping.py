"""Stopping tasks of one's own and waiting for them to end.

The usual `task.cancel(); with suppress(CancelledError): await task` also swallows a cancellation of
the task that waits: if it is itself being stopped at that moment, it carries on as if nothing had
happened. The middleware's worker did exactly that inside an MLLP exchange, and the stop() waiting
on it waited for ever (a test hang seen only on a loaded machine). Here a CancelledError is taken as
the reaped task's own end unless the waiting task has a cancellation pending (`Task.cancelling()`).
"""

from __future__ import annotations

import asyncio


async def reap(*tasks: asyncio.Task | None, errors: bool = True) -> None:
    """Cancels `tasks` (None ones skipped) and waits for each to end. An exception a task ended with
    is raised when `errors`, else dropped; the caller's own cancellation is always raised."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task in live:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:
            if errors:
                raise
