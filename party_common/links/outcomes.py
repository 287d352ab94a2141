"""What became of one attempt to deliver a message, as the sender experienced it."""

from __future__ import annotations

from dataclasses import dataclass

DELIVERED = "delivered"      # 2xx answer
REJECTED = "rejected"        # 4xx answer: the receiver refused the message
FAILED = "failed"            # 5xx answer
UNREACHABLE = "unreachable"  # no connection
TIMEOUT = "timeout"          # sent (or not), no answer in time
HELD = "held"                # held back by a reorder fault; goes out later

# Outcomes after which a reliable sender tries again: the receiver may not have the message.
RETRYABLE = frozenset({FAILED, UNREACHABLE, TIMEOUT, HELD})


@dataclass
class Delivery:
    link: str
    event: str
    outcome: str
    status: int | None
    body: dict | None
    latency_ms: float
    delivered: bool = False          # did the receiver get the message and process it?
    decision: str = "pass"           # the fault action applied, or pass
    rule_id: str | None = None
    seq: int = 0                     # the journal entry that recorded this delivery

    @property
    def ok(self) -> bool:
        return self.outcome == DELIVERED


def outcome_for_status(status: int) -> str:
    if status < 400:
        return DELIVERED
    if status < 500:
        return REJECTED
    return FAILED
