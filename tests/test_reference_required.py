"""Tests that read the reference material beside the repository (../shared: the BaRS spec and
examples, the study text) skip without it, and fail without it when TESTBED_REQUIRE_REFERENCE=1, as
CI sets: a clone that does not sit beside ../shared cannot pass quietly there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# One test on each way the reference is reached: the BaRS files (fixture), the study (fixture) and the
# spec the schemathesis suite is built from (read at import).
SAMPLE = ["tests/contracts/test_bundle_checks.py::test_the_published_booking_request_passes_both_checks",
          "tests/scenarios/test_library.py::test_every_quotation_is_in_the_study_word_for_word",
          "tests/fuzz/test_schemathesis.py::test_the_bars_spec_is_at_hand"]


def _pytest_without_reference(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TESTBED_REQUIRE_REFERENCE"}
    environ.update(TESTBED_REFERENCE_DIR=str(tmp_path / "no-reference"), TESTBED_STUDY_FILE=str(tmp_path / "no-study"),
                   **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsfE", *SAMPLE],
                          cwd=REPO, env=environ, capture_output=True, text=True, timeout=240)


def test_missing_reference_skips_and_fails_when_required(tmp_path: Path):
    relaxed = _pytest_without_reference(tmp_path)
    assert relaxed.returncode == 0, relaxed.stdout[-3000:]
    assert " failed" not in relaxed.stdout and " skipped" in relaxed.stdout, relaxed.stdout[-3000:]
    assert "BaRS reference files not found" in relaxed.stdout and "study text not found" in relaxed.stdout

    required = _pytest_without_reference(tmp_path, TESTBED_REQUIRE_REFERENCE="1")
    assert required.returncode == 1, required.stdout[-3000:]
    assert " skipped" not in required.stdout, required.stdout[-3000:]
    # A fixture that fails makes its test an error, a test body that fails a failure: both fail the run.
    failed = [line for line in required.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert len(failed) >= len(SAMPLE), required.stdout[-3000:]
    for what in ("BaRS reference files", "study text", "BaRS OpenAPI spec"):
        assert f"TESTBED_REQUIRE_REFERENCE=1 but the {what} not found" in required.stdout, what
