"""Where the parties are: the one object every harness command is given.

The four parties every stack has, and the two a stack with legacy trusts adds (docs/legacy-pas.md):
the trust's middleware and its legacy PAS, None when the stack has none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import httpx

DEFAULT_PORTS = {"broker": 8000, "spine": 8001, "pas": 8002, "gp": 8003, "middleware": 8004, "legacy_pas": 8005}
CORE = ("broker", "spine", "pas", "gp")
LEGACY = ("middleware", "legacy_pas")
# The legacy PAS's MLLP port for its first trust; the next trust takes the next port.
DEFAULT_MLLP_PORT = 2575


@dataclass(frozen=True)
class StackUrls:
    broker: str
    spine: str
    pas: str
    gp: str
    middleware: str | None = None
    legacy_pas: str | None = None

    @classmethod
    def local(cls, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
              legacy: bool = False) -> "StackUrls":
        """The parties on `host`; the middleware and legacy PAS too when `legacy` (or given a port)."""
        given = ports or {}
        p = {**DEFAULT_PORTS, **given}
        names = [*CORE, *(n for n in LEGACY if legacy or n in given)]
        return cls(**{name: f"http://{host}:{p[name]}" for name in names})

    @property
    def has_legacy(self) -> bool:
        return self.middleware is not None and self.legacy_pas is not None

    def with_legacy(self) -> "StackUrls":
        """These URLs, with the middleware and legacy PAS at their default ports on the broker's host
        where they were not given."""
        host = httpx.URL(self.broker).host
        return replace(self, middleware=self.middleware or f"http://{host}:{DEFAULT_PORTS['middleware']}",
                       legacy_pas=self.legacy_pas or f"http://{host}:{DEFAULT_PORTS['legacy_pas']}")

    def without_legacy(self) -> "StackUrls":
        return replace(self, middleware=None, legacy_pas=None)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def mllp_ports(trusts: list[str], first: int = DEFAULT_MLLP_PORT) -> dict[str, int]:
    """The legacy PAS's MLLP port of each legacy trust, as it numbers them (LEGACY_PAS_MLLP_PORTS)."""
    return {ods: first + i for i, ods in enumerate(trusts)}
