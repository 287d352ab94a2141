"""What a replay tells the broker before the run: the recording's request-id salt, its fault decisions
keyed by message, and the order of the messages whose order matters (harness/replay/run.py says why).

Apart from harness/replay/run.py, which runs the replay with harness/run/runner.py, so the runner can take a
plan without importing the replay.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from party_common.journal_entries import decisions_from_journal, order_from_journal
from party_common.outcome import answer_diagnostics

from harness.stack.embedded import StackError
from harness.stack.endpoints import StackUrls
from harness.run.record import RunRecord


@dataclass
class ReplayPlan:
    id_salt: str
    decisions: list[dict]
    order: list[dict]

    async def configure(self, client: httpx.AsyncClient, urls: StackUrls) -> None:
        r = await client.put(f"{urls.broker}/faults/replay", json={"decisions": self.decisions, "order": self.order})
        if r.status_code != 200:
            raise StackError(f"the broker refused the recorded decisions: {answer_diagnostics(r)}")


def plan_for(record: RunRecord) -> ReplayPlan:
    journal = record.journal()
    return ReplayPlan(id_salt=record.id_salt, decisions=decisions_from_journal(journal),
                      order=order_from_journal(journal))
