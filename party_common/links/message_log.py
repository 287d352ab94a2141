"""The bodies of the messages the courier carried, kept in memory for a run folder to save.

A single-booking replay sends a booking's recorded messages again, so the run folder needs their
bodies; they do not belong in the journal (bodies carry timestamps, and the journal must compare
equal across replays).

Bounded in bytes, not in messages: bodies are kept serialised (a parsed FHIR Bundle costs several
times its JSON in Python objects) and the oldest roll off once the log passes its budget, so a broker
that carries messages for days holds at most `limit_bytes` of them. A reader pages by journal
sequence and learns, from `first_kept`, when what it asks for has rolled off.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

import orjson

DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024
# What a row costs besides its body: the tuple, the seq, method and url strings.
_ROW_OVERHEAD = 200


class MessageLog:
    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.limit_bytes = limit_bytes
        self._rows: deque[tuple[int, str | None, str | None, bytes]] = deque()
        self.bytes = 0
        self.dropped = 0  # rows rolled off to stay within the budget

    def append(self, seq: int, method: str | None, url: str | None, body: dict | None) -> None:
        if body is None:
            return
        raw = orjson.dumps(body)
        self._rows.append((seq, method, url, raw))
        self.bytes += len(raw) + _ROW_OVERHEAD
        while self.bytes > self.limit_bytes and self._rows:
            _, _, _, old = self._rows.popleft()
            self.bytes -= len(old) + _ROW_OVERHEAD
            self.dropped += 1

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def first_kept(self) -> int | None:
        return self._rows[0][0] if self._rows else None

    def page(self, since: int = 0, count: int = 1000) -> list[dict]:
        """Messages of journal entries after `since`, oldest first (older ones may have rolled off).

        Bodies come back as orjson fragments: written into the response as they were kept, never
        parsed again.
        """
        start = 0
        if self._rows and self._rows[0][0] <= since:
            lo, hi = 0, len(self._rows)
            while lo < hi:  # seq rises along the deque: binary search for the first one after `since`
                mid = (lo + hi) // 2
                if self._rows[mid][0] <= since:
                    lo = mid + 1
                else:
                    hi = mid
            start = lo
        return [{"seq": seq, "method": method, "url": url, "body": orjson.Fragment(raw)}
                for seq, method, url, raw in islice(self._rows, start, start + count)]
