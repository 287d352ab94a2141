"""How a `testbed` command says something is wrong: one line on stderr and a non-zero exit.

A module of its own so every command module can use it without importing harness.cli, which imports
them all to register them.
"""

from __future__ import annotations

import sys

import typer


def fail(message: str, code: int = 1) -> None:
    """One line on stderr and a non-zero exit: what the user sees when something is wrong."""
    print(f"testbed: error: {message}", file=sys.stderr)
    raise typer.Exit(code)
