"""`testbed report RUN_FOLDER`: (re)writes a run folder's report.json and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.errors import USAGE, fail
from harness.report.data import ReportError
from harness.report.html import write_report


def report(run_folder: Annotated[Path, typer.Argument(help="A run folder written by `testbed run`.")]):
    """Write report.json and report.html (a self-contained page) into a run folder; print the page's path."""
    try:
        page = write_report(run_folder)
    except ReportError as exc:
        fail(str(exc), USAGE)
    except OSError as exc:
        fail(f"cannot write the report into {run_folder}: {exc.strerror}")
    print(page)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
