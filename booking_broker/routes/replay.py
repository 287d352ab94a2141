"""`POST /faults/replay/messages`: recorded messages sent again with their recorded decisions, and the
journal of that sending (booking_broker/resend.py; docs/replay.md).

What `testbed replay RUN --ubrn U` asks of a broker, so the harness replays a booking over HTTP
rather than building a courier of the broker's in its own process.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from party_common.control_auth import require_control_token
from party_common.fault_rules import FaultRule
from party_common.fhir_json import read_json_body

from party_common.links.faults.engine import RuleError
from booking_broker.resend import Resend, resend, scripted_engine
from party_common.links.fault_routes import ScriptedDecision, parsed, rule_error

router = APIRouter(dependencies=[Depends(require_control_token)])


class RecordedMessage(BaseModel):
    """A message as the broker journaled and logged it (GET /journal, GET /journal/messages)."""

    model_config = ConfigDict(extra="forbid")
    link: str
    event: str
    method: str = "POST"
    url: str = Field(pattern=r"^https?://")
    body: dict[str, Any] | None = None
    ubrn: str | None = None
    origin_id: str | None = None
    attempt: int = Field(1, ge=1)
    purpose: str = "delivery"


class ResendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)
    decisions: list[ScriptedDecision] = Field(default_factory=list)
    messages: list[RecordedMessage] = Field(min_length=1)


@router.post("/faults/replay/messages")
async def replay_messages(request: Request):
    """Sends `messages` in order through a courier of their own whose engine holds `rules` (and
    `seed`) and decides each message named in `decisions` as recorded, every other one passing;
    answers `{"journal": [...]}`, that courier's journal. The broker's own plan, journal and link
    counts are untouched."""
    body = parsed(ResendBody, await read_json_body(request), "messages")
    try:
        engine = scripted_engine(body.seed, body.rules, [d.model_dump() for d in body.decisions])
    except RuleError as exc:
        raise rule_error(exc) from None
    settings = request.app.state.settings
    messages = [Resend(**m.model_dump()) for m in body.messages]
    journal = await resend(messages, engine, request.app.state.transport, settings.http_timeout)
    return {"journal": journal}
