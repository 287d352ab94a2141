"""`testbed replay RUN_FOLDER --ubrn U`: one booking's messages again, against a fresh stack or your service.

The broker's messages for the booking are sent again as recorded (same bodies, same ids), in recorded
order, by a broker (`POST /faults/replay/messages`) through a courier whose fault engine holds that
booking's recorded decisions: a dropped message stays dropped, a lost answer is lost again, a
duplicate is sent twice (unless deliver_all). The practice's own request to the broker is shown but
not sent: the broker's messages below are what it caused. That courier's journal is what happened
now, and is compared with the recording. The harness only talks to the broker over HTTP.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from party_common.control_auth import control_headers
from party_common.http_client import party_client
from party_common.journal_entries import FOLLOW_UPS, decisions_from_journal, occurrences
from party_common.outcome import answer_diagnostics

from harness.stack.embedded import EmbeddedStack, StackError
from harness.replay.run import free_local_urls
from harness.replay.compare import journal_differences
from harness.run.record import RunRecord, load_run
from harness.run.runner import receiver_env
from harness.scenario.model import parse_scenario
from harness.replay.trace import TraceError, Tracer

# A replayed booking's delays and timeouts are waited out in full before the broker answers.
REPLAY_TIMEOUT_S = 600.0

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


def resend_request(record: RunRecord, hops: list[dict], targets: dict[str, str], deliver_all: bool) -> dict:
    """The body of `POST /faults/replay/messages`: the hops that can be sent, at the targets' URLs."""
    messages = record.messages()
    recorded_bases = record.urls
    out = []
    for hop in hops:
        party = party_of(hop["link"])
        message = messages.get(hop["seq"])
        if hop["decision"] in FOLLOW_UPS or party not in targets or message is None:
            continue
        base = recorded_bases.get(party, "")
        if not message.get("url", "").startswith(base):
            continue
        out.append({"link": hop["link"], "event": hop["event"], "method": message.get("method") or "POST",
                    "url": targets[party] + message["url"][len(base):], "body": message["body"],
                    "ubrn": hop.get("ubrn"), "origin_id": hop.get("origin_id"), "attempt": hop.get("attempt") or 1,
                    "purpose": hop.get("purpose") or "delivery"})
    body: dict = {"seed": record.scenario.get("seed", 0), "messages": out}
    if not deliver_all:
        body["rules"] = record.scenario.get("faults") or []
        body["decisions"] = decisions_from_journal(hops)
    return body


async def resend_through(broker: str, body: dict, transport: httpx.AsyncBaseTransport | None = None) -> list[dict]:
    """Has the broker send the messages again; returns the journal of that sending."""
    if not body["messages"]:
        return []
    async with party_client(transport, REPLAY_TIMEOUT_S) as client:
        try:
            r = await client.post(f"{broker}/faults/replay/messages", json=body, headers=control_headers())
        except httpx.HTTPError as exc:
            raise StackError(f"the broker at {broker} did not answer the replay ({type(exc).__name__}: {exc})") from None
    if r.status_code != 200:
        raise StackError(f"the broker refused the replay (HTTP {r.status_code}): {answer_diagnostics(r)}")
    return r.json()["journal"]


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
    """Replays one booking's broker messages, sent by a fresh embedded stack's broker: to that stack's
    parties, or to the targets given."""
    record = load_run(folder)
    # The broker's hops: those it sent and kept the bodies of (a legacy trust's middleware hops are not).
    hops = [h for h in Tracer.of_record(record).hops(ubrn) if not h.get("journal")]
    if not hops:
        raise TraceError(f"no journaled message of booking {ubrn} in {folder}")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="testbed-replay-")))
        urls = free_local_urls()
        env = {}
        if not targets:
            env = receiver_env(parse_scenario(record.scenario, str(folder / "scenario.json")))
            targets = {p: getattr(urls, p) for p in PARTIES}
        # With targets the fresh stack's broker sends to them, and its other parties stand by.
        stack.enter_context(EmbeddedStack(urls, data_dir=workdir / "data", log_dir=workdir / "logs", extra_env=env))
        now = asyncio.run(resend_through(urls.broker, resend_request(record, hops, targets, deliver_all)))
    return compare(record, ubrn, hops, targets, now)


def compare(record: RunRecord, ubrn: str, hops: list[dict], targets: dict[str, str], now: list[dict]) -> BookingReplay:
    """Each recorded hop beside the entry that records the same message (and occurrence) now."""
    messages = record.messages()
    result = BookingReplay(ubrn, targets)
    sent_then = [h for h in hops if party_of(h["link"]) in targets]
    now_of = {ident: e for e, ident in zip(now, occurrences(now))}
    then_idents = dict(zip((h["seq"] for h in hops), occurrences(hops)))
    for hop in hops:
        result.hops.append(HopReplay(hop, now_of.get(then_idents[hop["seq"]]), _note(hop, targets, messages)))
    result.differences = journal_differences(sent_then, now)
    return result
