"""`testbed replay RUN_FOLDER --ubrn U`: one booking's messages again, against a fresh stack or your service.

The broker's messages for the booking are sent again as recorded (same bodies, same ids), in recorded
order, each through a courier whose fault engine holds that booking's recorded decisions: a dropped
message stays dropped, a lost answer is lost again, a duplicate is sent twice (unless deliver_all).
The practice's own request to the broker is shown but not sent: the broker's messages below are what
it caused. The courier journals what happened now, and that is compared with the recording.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from booking_broker.courier import ORIGIN, Courier, LinkStats
from booking_broker.faults.engine import FaultEngine
from booking_broker.faults.rules import FaultRule
from booking_broker.faults.script import FOLLOW_UPS, decisions_from_journal, occurrences
from booking_broker.journal import Journal
from booking_broker.metrics import BrokerMetrics
from booking_broker.models import Base
from party_common.database import Database
from party_common.http_client import party_client

from .embedded_stack import EmbeddedStack
from .replay import free_local_urls
from .replay_compare import journal_differences
from .run_record import RunRecord, load_run
from .runner import receiver_env
from .scenario import parse_scenario
from .trace import Tracer

PARTIES = ("spine", "pas", "gp")


def party_of(link: str) -> str:
    """The party a link delivers to: broker->pas:RT1 -> pas; gp:Y90001->broker -> broker."""
    return link.split("->", 1)[1].split(":", 1)[0]


@dataclass
class HopReplay:
    then: dict
    now: dict | None = None
    note: str | None = None        # why it was not sent


@dataclass
class BookingReplay:
    ubrn: str
    targets: dict[str, str]
    hops: list[HopReplay] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        keep = ("link", "event", "message_id", "attempt", "decision", "outcome", "status", "delivered")
        return {"ubrn": self.ubrn, "targets": self.targets, "identical": not self.differences,
                "differences": self.differences,
                "hops": [{"then": {k: h.then.get(k) for k in keep},
                          "now": {k: h.now.get(k) for k in keep} if h.now else None, "note": h.note}
                         for h in self.hops]}


def _recorded_hops(record: RunRecord, ubrn: str) -> list[dict]:
    return Tracer.of_record(record).hops(ubrn)


async def _resend(record: RunRecord, hops: list[dict], targets: dict[str, str], deliver_all: bool,
                  workdir: Path) -> list[dict]:
    """Sends the hops through a courier of our own; returns its journal."""
    messages = record.messages()
    recorded_bases = record.urls
    engine = FaultEngine(record.scenario.get("seed", 0))
    if not deliver_all:
        engine.configure(engine.seed, [FaultRule.model_validate(r) for r in record.scenario.get("faults") or []])
        engine.load_script(decisions_from_journal(hops))
    db = Database(f"sqlite:///{workdir / 'journal.db'}", Base)
    await db.start()
    journal = Journal(db)
    await journal.start()
    client = party_client()
    courier = Courier(client, LinkStats(), engine, journal, BrokerMetrics())
    try:
        for hop in hops:
            party = party_of(hop["link"])
            message = messages.get(hop["seq"])
            if hop["decision"] in FOLLOW_UPS or party not in targets or message is None:
                continue
            base = recorded_bases.get(party, "")
            url = targets[party] + message["url"][len(base):] if message.get("url", "").startswith(base) else None
            if url is None:
                continue
            token = ORIGIN.set(hop.get("origin_id"))
            try:
                await courier.send(hop["link"], hop["event"], message.get("method") or "POST", url,
                                       message["body"], ubrn=hop.get("ubrn"), attempt=hop.get("attempt") or 1,
                                       purpose=hop.get("purpose") or "delivery")
            finally:
                ORIGIN.reset(token)
        await courier.release()
        now = await journal.page(0, 100_000)
    finally:
        await journal.stop()
        await client.aclose()
        await db.dispose()
    return now


def _note(hop: dict, targets: dict[str, str], messages: dict[int, dict]) -> str | None:
    party = party_of(hop["link"])
    if party == "broker":
        return "not re-sent: the practice's request"
    if party not in targets:
        return f"not sent: no URL for the {party}"
    if hop["decision"] not in FOLLOW_UPS and hop["seq"] not in messages:
        return "not sent: no body recorded"
    return None


def replay_booking(folder: Path, ubrn: str, targets: dict[str, str] | None = None,
                   deliver_all: bool = False) -> BookingReplay:
    """Replays one booking's broker messages; against a fresh embedded stack unless targets are given."""
    record = load_run(folder)
    hops = _recorded_hops(record, ubrn)
    if not hops:
        from .trace import TraceError
        raise TraceError(f"no journaled message of booking {ubrn} in {folder}")
    with ExitStack() as stack:
        if not targets:
            urls = free_local_urls()
            scenario = parse_scenario(record.scenario, str(folder / "scenario.json"))
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="testbed-replay-")))
            stack.enter_context(EmbeddedStack(urls, data_dir=workdir / "data", log_dir=workdir / "logs",
                                              extra_env=receiver_env(scenario)))
            targets = {p: getattr(urls, p) for p in PARTIES}
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="testbed-replay-journal-")))
        now = asyncio.run(_resend(record, hops, targets, deliver_all, workdir))
    messages = record.messages()
    result = BookingReplay(ubrn, targets)
    sent_then = [h for h in hops if party_of(h["link"]) in targets]
    # A hop now is the entry recording the same message (and occurrence) in our courier's journal.
    now_of = {ident: e for e, ident in zip(now, occurrences(now))}
    then_idents = dict(zip((h["seq"] for h in hops), occurrences(hops)))
    for hop in hops:
        result.hops.append(HopReplay(hop, now_of.get(then_idents[hop["seq"]]), _note(hop, targets, messages)))
    result.differences = journal_differences(sent_then, now)
    return result
