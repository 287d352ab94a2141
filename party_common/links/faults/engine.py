"""The fault engine: for each message on a link, decide what happens to it.

A probability rule decides each message by a draw keyed by the seed, the rule and the message itself
(link, event, message id, origin, attempt, and how many times that same message came before), not by
its place in the link's traffic: under concurrency the same seed drops the same messages, whatever
order they arrive in, and a rule added on one link changes no decision on another. Exact plans
(`nth`, `every`) count the messages a rule matches, so they follow the order of arrival.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
from dataclasses import dataclass

from party_common.clock import SYSTEM_CLOCK, Clock
from party_common.fault_rules import FaultRule
from party_common.journal_entries import Key, message_key
from party_common.keyed_draws import Occurrences, keyed_unit

from party_common.links.faults.actions import Action, build
from party_common.links.faults.script import DecisionScript


@dataclass
class Decision:
    rule: FaultRule | None
    action: Action | None
    elapsed: float

    @property
    def name(self) -> str:
        return self.rule.action if self.rule else "pass"


PASS = Decision(None, None, 0.0)


class RuleError(ValueError):
    """A rule that cannot be used; the message names what is wrong."""


class FaultEngine:
    def __init__(self, seed: int = 0, clock: Clock = SYSTEM_CLOCK):
        self.clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.rules: list[FaultRule] = []
        self._actions: dict[str, Action] = {}
        self.script: DecisionScript | None = None
        self.reset(seed)

    # -- configuration ---------------------------------------------------------------------------

    def reset(self, seed: int | None = None, keep_rules: bool = False) -> None:
        """Back to the start: counters, occurrences and the clock origin; rules too unless kept."""
        with self._lock:
            if seed is not None:
                self.seed = seed
            self.started = self.clock.monotonic()
            self._decided = Occurrences()
            self._param_draws = Occurrences()
            self._counts: dict[str, int] = {}
            self.script = None
            if not keep_rules:
                self.rules = []
                self._actions = {}
                self._ids = itertools.count(1)

    def _compile(self, rule: FaultRule) -> Action:
        try:
            return build(rule.action, rule.params)
        except ValueError as exc:
            raise RuleError(str(exc)) from None

    def add(self, rule: FaultRule) -> FaultRule:
        action = self._compile(rule)
        with self._lock:
            rule_id = rule.id or f"r{next(self._ids)}"
            rule = rule.model_copy(update={"id": rule_id})
            if any(r.id == rule_id for r in self.rules):
                raise RuleError(f"a rule with id {rule_id!r} exists already")
            self.rules.append(rule)
            self._actions[rule_id] = action
        return rule

    def replace(self, rule_id: str, rule: FaultRule) -> FaultRule:
        action = self._compile(rule)
        rule = rule.model_copy(update={"id": rule_id})
        with self._lock:
            for i, existing in enumerate(self.rules):
                if existing.id == rule_id:
                    self.rules[i] = rule
                    self._actions[rule_id] = action
                    self._counts.pop(rule_id, None)
                    return rule
        raise KeyError(rule_id)

    def remove(self, rule_id: str) -> None:
        with self._lock:
            before = len(self.rules)
            self.rules = [r for r in self.rules if r.id != rule_id]
            if len(self.rules) == before:
                raise KeyError(rule_id)
            self._actions.pop(rule_id, None)
            self._counts.pop(rule_id, None)

    def configure(self, seed: int, rules: list[FaultRule]) -> list[FaultRule]:
        """Replaces everything at once (a scenario's fault plan); all rules are checked first."""
        for rule in rules:
            self._compile(rule)
        self.reset(seed)
        return [self.add(rule) for rule in rules]

    def load_script(self, decisions: list[dict], order: list[dict] | None = None) -> DecisionScript:
        """Replay mode: each message gets the decision the script names for it, the rest pass; the
        messages in `order` go through one at a time in that order (see script.Sequencer).

        The rules stay (the script names them by id, for their actions) but no longer decide.
        """
        script = DecisionScript(decisions, order)
        unknown = sorted(script.rule_ids() - set(self._actions))
        if unknown:
            raise RuleError(f"the script names rules that are not configured: {', '.join(unknown)}")
        with self._lock:
            self.started = self.clock.monotonic()
            self.script = script
        return script

    def as_json(self) -> dict:
        out = {"seed": self.seed, "rules": [r.model_dump(by_alias=True, exclude_none=True) for r in self.rules]}
        if self.script is not None:
            out["replay"] = self.script.as_json()
        return out

    # -- decisions -------------------------------------------------------------------------------

    def params_stream(self, key: Key) -> random.Random:
        """The stream an action draws its parameters from (a delay's length, a corruption's byte).

        Seeded by the message itself, not by its place in the link's traffic: under concurrency two
        messages can reach a link in either order, and a replay must give each the delay it had.
        """
        with self._lock:
            n = self._param_draws.next(key)
        return random.Random(f"{self.seed}:params:{':'.join(map(str, key))}:{n}")

    def turn(self, key: Key) -> contextlib.AbstractAsyncContextManager:
        """Held while a message is carried: in replay mode, its turn in the recorded order."""
        script = self.script
        return script.sequencer.turn(key) if script is not None else contextlib.nullcontext()

    def decide(self, link: str, event: str, key: Key | None = None) -> Decision:
        """What happens to one message, known by `key` (see party_common.journal_entries.message_key); without one, messages
        on a link with the same event are told apart only by their order."""
        if self.script is not None and key is not None:
            return self._replayed(self.script, key)
        if not self.rules:
            return PASS
        if key is None:
            key = message_key(link, event, None, None, 1, None)
        with self._lock:
            elapsed = self.clock.monotonic() - self.started
            # The same message again (a practice resending it, a search with no id of its own) is a
            # fresh draw, or one unlucky draw would fail it for ever.
            occurrence = self._decided.next(key)
            chosen: Decision | None = None
            # Every matching rule counts every message it matches, even when an earlier rule wins:
            # "the 3rd message on this link" must not depend on other rules.
            for rule in self.rules:
                if not rule.matches(link, event):
                    continue
                if rule.window and not rule.window.contains(elapsed):
                    continue
                rule_id = _held_id(rule)
                count = self._counts[rule_id] = self._counts.get(rule_id, 0) + 1
                if chosen is not None or not self._fires(rule, key, occurrence, count):
                    continue
                action = self._actions[rule_id]
                since = elapsed - (rule.window.start if rule.window else 0.0)
                if action.active(since):
                    chosen = Decision(rule, action, elapsed)
        return chosen or Decision(None, None, elapsed)

    def _replayed(self, script: DecisionScript, key: Key) -> Decision:
        with self._lock:
            elapsed = self.clock.monotonic() - self.started
            rule_id = script.rule_for(key)
            rule = next((r for r in self.rules if r.id == rule_id), None)
            if rule is None:  # not in the script, or its rule was removed since
                return Decision(None, None, elapsed)
            return Decision(rule, self._actions[_held_id(rule)], elapsed)

    def _fires(self, rule: FaultRule, key: Key, occurrence: int, count: int) -> bool:
        if rule.probability is not None:
            # The rule's id is in the draw so that two rules on one message fire independently, and a
            # rule replaced under its id keeps its draws: raising p only adds messages to those it hit.
            return keyed_unit(self.seed, rule.id, key, occurrence) < rule.probability
        if rule.nth is not None:
            return count in rule.nth
        if rule.every is not None:
            # Bresenham: k hits spread evenly over each n, exactly k per complete block of n.
            k, n = rule.every.k, rule.every.n
            i = (count - 1) % n
            return (i + 1) * k // n > i * k // n
        return True


def _held_id(rule: FaultRule) -> str:
    """The id of a rule the engine holds: `add` gives every rule one, so only a rule from elsewhere
    (a bug) has none."""
    if rule.id is None:
        raise ValueError(f"fault rule {rule!r} has no id: rules are added through FaultEngine.add")
    return rule.id
