"""The error taxonomy (rules/errors.yaml): what a failure of each kind is answered with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .data import rules_file


@dataclass(frozen=True)
class ErrorKind:
    name: str
    status: int
    codes: tuple[str, ...]
    expression: bool
    bars: tuple[str, ...]   # the BaRS error codes of the kind, the one it corresponds to first
    description: str


@cache
def error_kinds() -> dict[str, ErrorKind]:
    return {
        name: ErrorKind(name, spec["status"], tuple(spec["codes"]), bool(spec["expression"]), tuple(spec["bars"]),
                        spec["description"])
        for name, spec in rules_file("errors")["errors"].items()
    }


def error_kind(name: str) -> ErrorKind:
    return error_kinds()[name]


def bars_error_system() -> str:
    return rules_file("errors")["bars_error_system"]
