"""The scenario library: the failures the 2007 study reports, each a scenario file under `scenarios/`.

`testbed scenarios` lists it and `testbed run --scenario NAME` runs one by name. The library is the
first of: `$TESTBED_SCENARIOS` (a folder), `scenarios/` inside the harness package (where a wheel
would carry it as package data), `scenarios/` at the repository root (an editable install, a checkout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.scenario.model import Scenario, ScenarioError, load_scenario

_SUFFIXES = (".yaml", ".yml", ".json")


def library_dir() -> Path | None:
    here = Path(__file__).resolve().parent.parent   # the harness package
    candidates = [Path(os.environ["TESTBED_SCENARIOS"])] if os.environ.get("TESTBED_SCENARIOS") else []
    candidates += [here / "scenarios", here.parent / "scenarios"]
    return next((c for c in candidates if c.is_dir()), None)


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    scenario: Scenario

    @property
    def summary(self) -> str:
        return (self.scenario.description or "").strip().splitlines()[0] if self.scenario.description else ""


def library() -> list[Entry]:
    """Every scenario in the library, by name; raises ScenarioError on a file that does not load."""
    folder = library_dir()
    if folder is None:
        return []
    entries = []
    # Each failure, then its cure.
    paths = sorted((p for p in folder.iterdir() if p.suffix in _SUFFIXES),
                   key=lambda p: (p.stem.removesuffix("-reliable"), p.stem.endswith("-reliable")))
    for path in paths:
        scenario = load_scenario(path)
        entries.append(Entry(scenario.name or path.stem, path, scenario))
    return entries


def resolve(ref: str) -> Path:
    """A scenario file named by path, or by its name in the library."""
    path = Path(ref)
    if path.exists() or path.suffix in _SUFFIXES or os.sep in ref:
        return path
    folder = library_dir()
    for suffix in _SUFFIXES:
        if folder is not None and (folder / f"{ref}{suffix}").is_file():
            return folder / f"{ref}{suffix}"
    raise ScenarioError(f"no scenario file or library scenario named {ref!r} (`testbed scenarios` lists the library)")
