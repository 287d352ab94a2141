"""The contract data shipped with the package: rules, examples, snapshots and pact files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent
RULES_DIR = ROOT / "rules"
EXAMPLES_DIR = ROOT / "examples"
SNAPSHOTS_DIR = ROOT / "snapshots"
PACTS_DIR = ROOT / "pacts"


@cache
def rules_file(name: str) -> dict:
    return yaml.safe_load((RULES_DIR / f"{name}.yaml").read_text())


def example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text())


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.json"))
