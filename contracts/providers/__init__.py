"""The provider suites; importing this package registers every check."""

from __future__ import annotations

from ..checks import Target
from . import broker, gp, pas, spine

_PREPARE = {"pas": pas.prepare, "spine": spine.prepare, "gp": gp.prepare, "broker": broker.prepare}


async def prepare(target: Target) -> None:
    """Fills in what the checks need to know (trust, practice, service, patient), asking the provider."""
    await _PREPARE[target.provider](target)
