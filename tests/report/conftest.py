"""A real headless browser (Debian's `chromium`) for the report tests."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture
def chromium() -> str:
    """The browser's path. Skipped when it is not installed, unless TESTBED_REQUIRE_BROWSER=1 (as CI
    sets), where a missing browser is a failure rather than a silent skip."""
    path = os.environ.get("TESTBED_CHROMIUM") or shutil.which("chromium")
    if not path:
        if os.environ.get("TESTBED_REQUIRE_BROWSER") == "1":
            pytest.fail("TESTBED_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH: apt-get install chromium")
    return path
