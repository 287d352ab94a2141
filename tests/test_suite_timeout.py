"""The suite's own settings: a hanging test ends the run with its stacks instead of hanging it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HANGING = '''
import asyncio, time


async def test_hangs_while_another_task_keeps_the_loop_busy():
    async def busy():
        while True:
            time.sleep(0.01)
            await asyncio.sleep(0)

    task = asyncio.create_task(busy())
    await asyncio.Event().wait()
'''


@pytest.mark.timeout(120)
def test_a_hanging_asyncio_test_is_stopped_by_the_configured_timeout(tmp_path):
    (tmp_path / "test_hang.py").write_text(HANGING)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
                          "-p", "no:cacheprovider", "-o", "timeout=2", str(tmp_path / "test_hang.py")],
                         capture_output=True, text=True, timeout=100, cwd=tmp_path)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "+ Timeout +" in out and "test_hang.py" in out and "in busy" in out  # where it hung
    assert time.monotonic() - started < 60
