"""Message profiles (rules/messages.yaml) applied to JSON: a list of what is wrong, empty when all hold.

A profile is JMESPath rules and, for what JMESPath cannot say (references resolving, the BaRS JSON
schema), named Python checks (contracts/bundle_checks.py); it inherits both from the profiles it
`extends` (one name or a list, in order; a rule of the same id later replaces an earlier one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jmespath

from .bundle_checks import CHECKS
from .data import rules_file


@dataclass(frozen=True)
class Rule:
    id: str
    path: str
    test: str          # required | equals | one_of | matches | count
    expected: Any = None

    def check(self, doc: Any, variables: dict[str, Any]) -> str | None:
        """None when the rule holds; otherwise what is wrong, in one line."""
        try:
            found = jmespath.search(self.path, doc)
        except jmespath.exceptions.JMESPathError as exc:
            return f"{self.id}: cannot evaluate {self.path}: {exc}"
        # Only values are filled in: a `matches` regex has braces of its own (\d{12}).
        expected = _fill(self.expected, variables) if self.test in ("equals", "one_of") else self.expected
        if self.test == "required":
            ok = found not in (None, "", [], {})
        elif self.test == "equals":
            ok = found == expected
        elif self.test == "one_of":
            ok = found in expected
        elif self.test == "matches":
            ok = found is not None and re.fullmatch(str(expected), str(found)) is not None
        elif self.test == "count":
            ok = isinstance(found, list) and len(found) == expected
        else:
            raise ValueError(f"rule {self.id}: unknown test {self.test}")
        if ok:
            return None
        want = "present" if self.test == "required" else f"{self.test} {expected!r}"
        return f"{self.id}: {self.path} should be {want}, got {_short(found)}"


_TESTS = ("required", "equals", "one_of", "matches", "count")


def _fill(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str) and "{" in value:
        return value.format(**variables)
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _spec(name: str) -> dict:
    profiles = rules_file("messages")["profiles"]
    if name not in profiles:
        raise KeyError(f"no message profile {name!r}")
    return profiles[name]


def _parents(spec: dict) -> list[str]:
    extends = spec.get("extends") or []
    return [extends] if isinstance(extends, str) else list(extends)


def _merged(rules: list[Rule]) -> tuple[Rule, ...]:
    """Later rules replace earlier ones of the same id, in the place of the last one."""
    last = {r.id: i for i, r in enumerate(rules)}
    return tuple(r for i, r in enumerate(rules) if last[r.id] == i)


@cache
def profile_rules(name: str) -> tuple[Rule, ...]:
    spec = _spec(name)
    rules: list[Rule] = [r for parent in _parents(spec) for r in profile_rules(parent)]
    for raw in spec.get("rules", []):
        test = next(t for t in _TESTS if t in raw)
        rules.append(Rule(raw["id"], raw["path"], test, raw[test]))
    # A rule of the same id in the profile replaces the inherited one (e.g. a fixed event code).
    return _merged(rules)


@cache
def profile_checks(name: str) -> tuple[str, ...]:
    """The Python checks (bundle_checks.CHECKS) of a profile, its own and inherited ones."""
    spec = _spec(name)
    names = [c for parent in _parents(spec) for c in profile_checks(parent)] + list(spec.get("checks") or [])
    for c in names:
        if c not in CHECKS:
            raise ValueError(f"profile {name}: unknown check {c!r} (known: {', '.join(CHECKS)})")
    return tuple(dict.fromkeys(names))


def profile_names() -> list[str]:
    return sorted(rules_file("messages")["profiles"])


def violations(doc: Any, profile: str, **variables: Any) -> list[str]:
    """What in `doc` breaks the profile's rules (after filling `{name}` placeholders from variables)."""
    out = []
    for rule in profile_rules(profile):
        try:
            problem = rule.check(doc, variables)
        except KeyError as exc:
            raise ValueError(f"profile {profile} rule {rule.id} needs variable {exc}") from None
        if problem:
            out.append(problem)
    for name in profile_checks(profile):
        out += CHECKS[name](doc)
    return out
