"""A run folder: everything a run leaves behind, named so runs sort by time."""

from __future__ import annotations

import errno
from datetime import datetime, timezone
from pathlib import Path

import orjson


def new_run_folder(root: Path, seed: int, bookings: int) -> Path:
    if root.exists() and not root.is_dir():
        # Said before anything else is done; the CLI prints it as one line.
        raise NotADirectoryError(errno.ENOTDIR, "not a directory (--runs-dir is where run folders go)", str(root))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = root / f"{stamp}-seed{seed}-n{bookings}"
    folder = base
    n = 1
    while folder.exists():
        n += 1
        folder = Path(f"{base}-{n}")
    folder.mkdir(parents=True)
    return folder


def write_json(path: Path, data) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def write_jsonl(path: Path, rows) -> None:
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
