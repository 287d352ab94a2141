"""What a replay tells the parties before the run: the recording's request-id salt, its fault decisions
keyed by message (the broker's, and the middleware's in a run with legacy trusts), and the order of
the messages whose order matters (harness/replay/run.py says why).

Apart from harness/replay/run.py, which runs the replay with harness/run/runner.py, so the runner can take a
plan without importing the replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from party_common.journal_entries import decisions_from_journal, order_from_journal
from party_common.outcome import answer_diagnostics

from harness.stack.embedded import StackError
from harness.stack.endpoints import StackUrls
from harness.run.record import MIDDLEWARE_JOURNAL, RunRecord


@dataclass
class Script:
    """One carrying party's script: the decisions it made and the order of its ordered messages."""

    decisions: list[dict] = field(default_factory=list)
    order: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, journal: list[dict]) -> "Script":
        return cls(decisions_from_journal(journal), order_from_journal(journal))

    async def put(self, client: httpx.AsyncClient, base: str, party: str) -> None:
        # After the scenario's fault plan is on the party (the runner puts it first): the script names
        # that plan's rules by the ids the party gave them, and the party refuses a rule it lacks (422).
        r = await client.put(f"{base}/faults/replay", json={"decisions": self.decisions, "order": self.order})
        if r.status_code != 200:
            raise StackError(f"the {party} refused the recorded decisions: {answer_diagnostics(r)}")


@dataclass
class ReplayPlan:
    id_salt: str
    decisions: list[dict]
    order: list[dict]
    # The middleware's own script, from its journal (middleware-journal.jsonl); None for a run without
    # legacy trusts. Its links carry no ordered events today, so its order is empty, but it is taken
    # from the journal as the broker's is, so an ordered event added there needs nothing here.
    middleware: Script | None = None
    # After the run: how each party used its script (GET /faults `replay`: decisions, used, ordered,
    # passed_over), for replay.json. A recorded decision not used is a message that did not come again.
    used: dict[str, dict] = field(default_factory=dict)

    def parties(self, urls: StackUrls) -> list[tuple[str, str, Script]]:
        out = [("broker", urls.broker, Script(self.decisions, self.order))]
        if self.middleware is not None:
            if not urls.middleware:
                raise StackError("the recording has a middleware journal, but the replay has no middleware")
            out.append(("middleware", urls.middleware, self.middleware))
        return out

    async def configure(self, client: httpx.AsyncClient, urls: StackUrls) -> None:
        for party, base, script in self.parties(urls):
            await script.put(client, base, party)

    async def read_back(self, client: httpx.AsyncClient, urls: StackUrls) -> None:
        for party, base, _ in self.parties(urls):
            r = await client.get(f"{base}/faults")
            self.used[party] = (r.json().get("replay") or {}) if r.status_code == 200 else {}


def plan_for(record: RunRecord) -> ReplayPlan:
    journal = record.journal()
    # A legacy run records the middleware's journal even when it is empty (nothing reached it): its
    # engine still gets a script then, so that its rules decide nothing the recording did not see.
    middleware = Script.of(record.middleware_journal()) if (record.folder / MIDDLEWARE_JOURNAL).is_file() else None
    return ReplayPlan(id_salt=record.id_salt, decisions=decisions_from_journal(journal),
                      order=order_from_journal(journal), middleware=middleware)
