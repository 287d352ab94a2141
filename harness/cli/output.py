"""How wide `testbed` draws its tables when stdout is not a terminal.

rich falls back to 80 columns when it finds no terminal, so in a CI log or a file every trace, replay
and reconciliation table wider than that is folded into unreadable fragments. COLUMNS is what rich
(and most tools) read for the width: when the user has set it, it stands; otherwise piped output gets
a width no table of ours reaches, so each row stays on one line. The help pages are drawn as boxes
as wide as the console, so they get a width of their own (TERMINAL_WIDTH, which typer reads), unless
the user set that too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from typing import TextIO

PIPED_COLUMNS = 1000
PIPED_HELP_COLUMNS = 100


def widen_piped_output(environ: MutableMapping[str, str] = os.environ, stdout: TextIO | None = None) -> None:
    """Sets COLUMNS for every rich Console of this process when stdout is not a terminal and the user
    has not set it. Called once, before any command runs (harness.cli.main.main)."""
    stdout = stdout or sys.stdout
    if environ.get("COLUMNS"):
        return
    try:
        interactive = stdout.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        interactive = False
    if not interactive:
        environ["COLUMNS"] = str(PIPED_COLUMNS)
        environ.setdefault("TERMINAL_WIDTH", str(PIPED_HELP_COLUMNS))
