"""The bodies of the messages the courier carried, kept in memory for a run folder to save.

A single-booking replay sends a booking's recorded messages again, so the run folder needs their
bodies; they do not belong in the journal (bodies carry timestamps, and the journal must compare
equal across replays). Kept as references to the dicts already built, so recording costs an append.
"""

from __future__ import annotations

from collections import deque
from itertools import islice


class MessageLog:
    def __init__(self, limit: int = 200_000):
        self._rows: deque[dict] = deque(maxlen=limit)

    def append(self, seq: int, method: str | None, url: str | None, body: dict | None) -> None:
        if body is not None:
            self._rows.append({"seq": seq, "method": method, "url": url, "body": body})

    def page(self, since: int = 0, count: int = 1000) -> list[dict]:
        """Messages of journal entries after `since`, oldest first (older ones may have rolled off)."""
        start = 0
        if self._rows and self._rows[0]["seq"] <= since:
            lo, hi = 0, len(self._rows)
            while lo < hi:  # seq rises along the deque: binary search for the first one after `since`
                mid = (lo + hi) // 2
                if self._rows[mid]["seq"] <= since:
                    lo = mid + 1
                else:
                    hi = mid
            start = lo
        return list(islice(self._rows, start, start + count))
