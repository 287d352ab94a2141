"""Tables in piped output (a CI log, a file) keep each row on one line instead of folding at 80
columns; a COLUMNS the user set is respected. Set once for every command (harness/cli/output.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from harness.cli.output import PIPED_COLUMNS, PIPED_HELP_COLUMNS, widen_piped_output
from harness.run.folder import write_json, write_jsonl

REPO = Path(__file__).resolve().parents[2]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_only_piped_output_without_columns_is_widened():
    env: dict[str, str] = {}
    widen_piped_output(env, io.StringIO())
    assert env == {"COLUMNS": str(PIPED_COLUMNS), "TERMINAL_WIDTH": str(PIPED_HELP_COLUMNS)}
    env = {"TERMINAL_WIDTH": "120"}
    widen_piped_output(env, io.StringIO())
    assert env == {"COLUMNS": str(PIPED_COLUMNS), "TERMINAL_WIDTH": "120"}
    env = {"COLUMNS": "100"}
    widen_piped_output(env, io.StringIO())
    assert env == {"COLUMNS": "100"}
    env = {}
    widen_piped_output(env, Tty())
    assert env == {}


def _lossy_run_folder(folder: Path, n: int = 6) -> list[str]:
    """A run folder whose trust never got any booking: a discrepancy table wider than 80 columns."""
    ubrns = [f"{131679000000 + i}" for i in range(n)]
    view = {"status": "booked", "slot": "rt1-rt101-cardiology-202701040910", "start": "2027-01-04T09:10:00Z",
            "end": "2027-01-04T09:20:00Z", "trust": "RT1", "practice": "Y90001"}
    folder.mkdir()
    write_json(folder / "summary.json", {"run": {"stack": "external", "urls": {}}})
    write_json(folder / "scenario.json", {})
    write_jsonl(folder / "bookings.jsonl", ({"index": i, "ubrn": u, "outcome": "accepted"} for i, u in enumerate(ubrns)))
    write_jsonl(folder / "journal.jsonl", [])
    write_jsonl(folder / "views.jsonl", ({"ubrn": u, "broker": view, "pas": [], "spine": view, "gp": view}
                                         for u in ubrns))
    return ubrns


def _reconcile_piped(folder: Path, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "reconcile", "--run", str(folder)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env={**environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_piped_table_keeps_each_row_on_one_line(tmp_path: Path):
    ubrns = _lossy_run_folder(tmp_path / "run")
    lines = _reconcile_piped(tmp_path / "run")
    rows = [line for line in lines if any(u in line for u in ubrns)]
    assert len(rows) == len(ubrns)
    for row in rows:
        # UBRN, kind, and each party's view of it, side by side on one line.
        assert "missing_at_pas" in row and row.count("booked rt1-rt101-cardiology-202701040910") == 3, row
    assert max(map(len, lines)) > 80

    narrow = _reconcile_piped(tmp_path / "run", COLUMNS="70")
    assert max(map(len, narrow)) <= 70


def test_piped_help_stays_a_readable_width():
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    done = subprocess.run([sys.executable, "-m", "harness.cli.main", "reconcile", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=environ)
    assert done.returncode == 0 and "--run" in done.stdout
    assert 80 < max(len(line) for line in done.stdout.splitlines()) <= PIPED_HELP_COLUMNS
