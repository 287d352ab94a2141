"""A decision script: the fault decisions of a recorded run, keyed by message rather than by timing.

The engine's exact plans (`nth`, `every`) count messages in arrival order, so under concurrency the
same seed can put such a decision on a different message, and windows and outages follow timing. A
replay instead looks each message up by what it is (link, event, message id, the message that caused
it, attempt, purpose) and how many times that same message was decided on before, and gets exactly
the decision it got in the recording. Messages the script does not name pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from party_common.journal_entries import Key, message_key


def _scripted_key(d: dict) -> tuple[Key, int]:
    key = message_key(d["link"], d["event"], d.get("message_id"), d.get("origin_id"), d.get("attempt"),
                      d.get("purpose"))
    return key, int(d.get("occurrence") or 1)


class Sequencer:
    """Lets the messages it knows through one at a time, in the recorded order.

    A message waits (at most `patience` seconds) for those recorded before it; one that never comes
    (the replay went another way) is passed over, and the difference shows in the journal.
    """

    def __init__(self, order: list[dict], patience: float = 2.0):
        self.position = {_scripted_key(d): i for i, d in enumerate(order)}
        self.patience = patience
        self.next = 0
        self.passed_over = 0
        self._seen: Counter = Counter()
        self._cond: asyncio.Condition | None = None

    @contextlib.asynccontextmanager
    async def turn(self, key: Key) -> AsyncIterator[None]:
        self._seen[key] += 1
        slot = self.position.get((key, self._seen[key]))
        if slot is None:
            yield
            return
        if self._cond is None:
            self._cond = asyncio.Condition()
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self.next >= slot), self.patience)
            except asyncio.TimeoutError:
                self.passed_over += slot - self.next
                self.next = slot
        try:
            yield
        finally:
            async with self._cond:
                self.next = max(self.next, slot + 1)
                self._cond.notify_all()


class DecisionScript:
    """Looked up once per message; counts how often each message has been decided on so far."""

    def __init__(self, decisions: list[dict], order: list[dict] | None = None):
        self.decisions: dict[tuple[Key, int], str] = {_scripted_key(d): d["rule_id"] for d in decisions}
        self.sequencer = Sequencer(order or [])
        self._seen: Counter = Counter()
        self.used = 0

    def rule_for(self, key: Key) -> str | None:
        self._seen[key] += 1
        rule_id = self.decisions.get((key, self._seen[key]))
        if rule_id is not None:
            self.used += 1
        return rule_id

    def rule_ids(self) -> set[str]:
        return set(self.decisions.values())

    def as_json(self) -> dict:
        return {"decisions": len(self.decisions), "used": self.used, "ordered": len(self.sequencer.position),
                "passed_over": self.sequencer.passed_over}
