"""`/faults`: run-time control of a carrying party's fault engine, in the spirit of Toxiproxy.

The same routes at the broker and the middleware (every party whose links go through
party_common/links). They read the party's engine, courier and link counts from `app.state`
(`engine`, `courier`, `stats`); a party that keeps its plan across restarts has an `app.state.control`
with `save_faults(engine)` (the broker's ControlState), called after every change.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from party_common.control_auth import require_control_token
from party_common.fault_rules import FaultRule
from party_common.fhir_json import read_json_body
from party_common.outcome import FhirError, invalid, not_found

from party_common.links.faults.engine import FaultEngine, RuleError

M = TypeVar("M", bound=BaseModel)


def _is_seed(value) -> bool:
    # JSON true/false arrive as Python bools, which are ints: `{"seed": false}` must not mean seed 0.
    return isinstance(value, int) and not isinstance(value, bool)


def _rule(data, where: str = "rule") -> FaultRule:
    try:
        return FaultRule.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or where
        raise invalid(f"{where}.{loc}: {err.get('msg')}", f"{where}.{loc}") from None


def parsed(model: type[M], data, where: str) -> M:
    """The body as `model`, or a 400 naming the element at fault (`where` for the body itself)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or where
        raise invalid(f"{loc}: {err.get('msg')}", loc) from None


def rule_error(exc: RuleError) -> FhirError:
    return FhirError(422, "business-rule", str(exc))


class ScriptedMessage(BaseModel):
    """A message as the journal identifies it, and which time it is seen (a retry of the same id)."""

    model_config = ConfigDict(extra="forbid")
    link: str
    event: str
    message_id: str | None = None
    origin_id: str | None = None
    attempt: int = Field(1, ge=1)
    purpose: str = "delivery"
    occurrence: int = Field(1, ge=1)


class ScriptedDecision(ScriptedMessage):
    rule_id: str


class DecisionScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decisions: list[ScriptedDecision]
    order: list[ScriptedMessage] = Field(default_factory=list)


async def _saved(request: Request, engine: FaultEngine) -> None:
    control = getattr(request.app.state, "control", None)
    if control is not None:
        await control.save_faults(engine)


def fault_router() -> APIRouter:
    """A router with the `/faults` routes; the party may add its own control routes to it."""
    # Reads pass freely; every change to the plan needs the control token, if set.
    router = APIRouter(dependencies=[Depends(require_control_token)])

    @router.get("/faults")
    async def list_faults(request: Request):
        return request.app.state.engine.as_json()

    @router.post("/faults", status_code=201)
    async def add_fault(request: Request):
        engine = request.app.state.engine
        try:
            rule = engine.add(_rule(await read_json_body(request)))
        except RuleError as exc:
            raise rule_error(exc) from None
        await _saved(request, engine)
        return rule.model_dump(by_alias=True, exclude_none=True)

    @router.put("/faults")
    async def configure_faults(request: Request):
        """Replaces the whole fault plan: {"seed": 7, "rules": [...]}; counters and occurrences start over."""
        engine = request.app.state.engine
        data = await read_json_body(request)
        if not isinstance(data, dict):
            raise invalid("body must be {\"seed\": N, \"rules\": [...]}")
        seed = data.get("seed", engine.seed)
        if not _is_seed(seed):
            raise invalid("seed must be an integer", "seed")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise invalid("rules must be a list", "rules")
        rules = [_rule(r, f"rules[{i}]") for i, r in enumerate(raw_rules)]
        await request.app.state.courier.release()
        try:
            engine.configure(seed, rules)
        except RuleError as exc:
            raise rule_error(exc) from None
        await _saved(request, engine)
        return engine.as_json()

    @router.put("/faults/replay")
    async def load_replay_script(request: Request):
        """Replay mode: {"decisions": [...], "order": [...]} from a recorded journal; each message gets its
        recorded decision, and the messages in `order` are carried one at a time in that order.

        Declared before `/faults/{rule_id}`, which would otherwise take "replay" for a rule id.
        """
        engine = request.app.state.engine
        body = parsed(DecisionScriptBody, await read_json_body(request), "decisions")
        await request.app.state.courier.release()
        try:
            engine.load_script([d.model_dump() for d in body.decisions], [m.model_dump() for m in body.order])
        except RuleError as exc:
            raise rule_error(exc) from None
        return engine.as_json()

    @router.put("/faults/{rule_id}")
    async def replace_fault(rule_id: str, request: Request):
        engine = request.app.state.engine
        try:
            rule = engine.replace(rule_id, _rule(await read_json_body(request)))
        except KeyError:
            raise not_found(f"no fault rule {rule_id!r}") from None
        except RuleError as exc:
            raise rule_error(exc) from None
        await _saved(request, engine)
        return rule.model_dump(by_alias=True, exclude_none=True)

    @router.delete("/faults/{rule_id}")
    async def delete_fault(rule_id: str, request: Request):
        engine = request.app.state.engine
        try:
            engine.remove(rule_id)
        except KeyError:
            raise not_found(f"no fault rule {rule_id!r}") from None
        await _saved(request, engine)
        return engine.as_json()

    @router.post("/faults/reset")
    async def reset_faults(request: Request):
        """Removes every rule, releases held messages, restarts counters and the link counts."""
        engine = request.app.state.engine
        data = await read_json_body(request, empty={})
        seed = data.get("seed") if isinstance(data, dict) else None
        if seed is not None and not _is_seed(seed):
            raise invalid("seed must be an integer", "seed")
        await request.app.state.courier.release()
        engine.reset(seed)
        request.app.state.stats.reset()
        await _saved(request, engine)
        return engine.as_json()

    return router
