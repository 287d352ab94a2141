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

# Events whose effect depends on their order at the receiver: each UBRN allocation draws the spine's
# next number, so the bookings must ask in the recorded order to be given the recorded UBRNs.
ORDERED_EVENTS = frozenset({"allocate-ubrn"})

# Journal entries that record a copy or a late release of a message decided on earlier: they are no
# decision of their own, so they neither enter the script nor advance a message's occurrence count.
FOLLOW_UPS = frozenset({"duplicate-copy", "release"})

Key = tuple[str, str, str, str, int, str]


def message_key(link: str, event: str, message_id: str | None, origin_id: str | None, attempt: int | None,
                purpose: str | None) -> Key:
    return (link, event, message_id or "", origin_id or "", int(attempt or 1), purpose or "delivery")


def entry_key(entry: dict) -> Key:
    return message_key(entry["link"], entry["event"], entry.get("message_id"), entry.get("origin_id"),
                       entry.get("attempt"), entry.get("purpose"))


def occurrences(entries: list[dict]) -> list[tuple[Key, str, int]]:
    """(key, kind, n) for each journal entry in order: the n-th entry of that kind for that message.

    kind is "decision" for the entry of a decision, or the follow-up's decision name.
    """
    seen: Counter = Counter()
    out = []
    for e in entries:
        kind = e["decision"] if e.get("decision") in FOLLOW_UPS else "decision"
        key = entry_key(e)
        seen[(key, kind)] += 1
        out.append((key, kind, seen[(key, kind)]))
    return out


def decisions_from_journal(entries: list[dict]) -> list[dict]:
    """The script a recorded journal implies: every decision that was not `pass`, in journal order."""
    script = []
    for e, (key, kind, n) in zip(entries, occurrences(entries)):
        if kind != "decision" or e.get("decision") in (None, "pass") or not e.get("rule_id"):
            continue
        link, event, message_id, origin_id, attempt, purpose = key
        script.append({"link": link, "event": event, "message_id": message_id or None,
                       "origin_id": origin_id or None, "attempt": attempt, "purpose": purpose,
                       "occurrence": n, "rule_id": e["rule_id"]})
    return script


def order_from_journal(entries: list[dict]) -> list[dict]:
    """The recorded order of the messages whose order matters (ORDERED_EVENTS), as script entries."""
    out = []
    for e, (key, kind, n) in zip(entries, occurrences(entries)):
        if kind == "decision" and e.get("event") in ORDERED_EVENTS:
            link, event, message_id, origin_id, attempt, purpose = key
            out.append({"link": link, "event": event, "message_id": message_id or None,
                        "origin_id": origin_id or None, "attempt": attempt, "purpose": purpose, "occurrence": n})
    return out


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
