"""How a `testbed` command says something is wrong: one line on stderr and a non-zero exit.

Every error the harness reports to its user is a `TestbedError`, whose class says the exit code
(README, "Exit codes"): `main()` prints it as one line and exits with that code, so a command need
not catch what it cannot mend. A module of its own so every command module can use it without
importing harness.cli.main, which imports them all to register them.
"""

from __future__ import annotations

import sys

import typer

FAILED, USAGE, UNREACHABLE = 1, 2, 3


class TestbedError(Exception):
    """Something went wrong that the user should read: a run that could not finish, a bound missed."""
    exit_code = FAILED


class UsageError(TestbedError):
    """What the user gave cannot be used: a scenario, a run folder, a journal, a flag's value."""
    exit_code = USAGE


class UnreachableError(TestbedError):
    """A party (ours or the user's system at a URL) could not be reached."""
    exit_code = UNREACHABLE


def fail(message: str, code: int = FAILED) -> None:
    """One line on stderr and a non-zero exit: what the user sees when something is wrong."""
    print(f"testbed: error: {message}", file=sys.stderr)
    raise typer.Exit(code)
