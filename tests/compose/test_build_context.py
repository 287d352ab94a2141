"""The party image's build context holds every package `testbed` and the parties import.

Checked without Docker (the compose test builds and runs the images; this runs everywhere): the
context is what .dockerignore lets through, read with Docker's rules (the last pattern that matches a
path or one of its parent directories decides; `!` lets it back in; `*` stops at `/`, `**` does not).
A package left out (contracts/ was) builds an image whose `testbed` cannot start.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _regex(pattern: str) -> re.Pattern:
    pattern = pattern.strip().strip("/")
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), _regex(line.lstrip("!"))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, rx in rules:
        if any(rx.fullmatch(c) for c in candidates):
            excluded = not negated
    return not excluded


def _tracked() -> list[str]:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.splitlines()
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_the_matcher_reads_dockerignore_as_docker_does():
    rules = [(False, _regex("*")), (True, _regex("pkg/")), (False, _regex("**/__pycache__")),
             (False, _regex("**/*.pyc")), (True, _regex("docker/wheels/*.whl"))]
    assert in_context("pkg/a/b.py", rules)
    assert not in_context("pkg/a/__pycache__/b.py", rules)
    assert not in_context("pkg/b.pyc", rules)
    assert not in_context("tests/test_a.py", rules) and not in_context("README.md", rules)
    assert in_context("docker/wheels/x-1.0-py3-none-any.whl", rules)
    assert not in_context("docker/wheels/sub/x.whl", rules)


def test_every_package_and_its_data_is_in_the_build_context():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert "contracts" in packages and "harness" in packages
    rules = _rules()
    tracked = _tracked()
    left_out = [f for f in tracked if f.split("/")[0] in packages and not in_context(f, rules)]
    assert not left_out, f"the image would be built without {left_out[:10]}: let them in in .dockerignore"
    # What the Dockerfile copies besides the packages.
    for needed in ("pyproject.toml", "README.md", "docker/entrypoint.sh", "docker/healthcheck.sh",
                   "scenarios/dropped-booking-messages.yaml"):
        assert in_context(needed, rules), needed
    # And what must stay out, so the context stays small and no local state reaches the image.
    for kept_out in ("tests/conftest.py", ".git/HEAD", "runs/x/summary.json", "harness/__pycache__/cli.cpython-311.pyc",
                     ".testbed/data/spine.db"):
        assert not in_context(kept_out, rules), kept_out
