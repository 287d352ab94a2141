"""The one clock every party and the fault engine read, so a virtual clock can replace it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


class Clock:
    """Wall time for records, monotonic time for windows and delays."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)


SYSTEM_CLOCK = Clock()
