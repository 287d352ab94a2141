"""A journal entry as it travels, and what a replay reads from a recorded journal.

The broker journals every attempt on every link (`GET /journal`); a run folder keeps those entries
(journal.jsonl). Here is what identifies an entry's message (link, event, message id, the message
that caused it, attempt, purpose) and which time that message was decided on, and the decision
script and order a recorded journal implies. The broker's replay mode (party_common/links/faults/script.py)
and the harness's replay comparison (harness/replay/compare.py) both read entries this way.
"""

from __future__ import annotations

from collections import Counter

# Fields that depend on when the run happened rather than on what happened in it.
WALL_CLOCK_FIELDS = ("at", "elapsed_s", "latency_ms")

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
