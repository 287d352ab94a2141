"""Where the four parties are: the one object every harness command is given."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT_PORTS = {"broker": 8000, "spine": 8001, "pas": 8002, "gp": 8003}


@dataclass(frozen=True)
class StackUrls:
    broker: str
    spine: str
    pas: str
    gp: str

    @classmethod
    def local(cls, host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> "StackUrls":
        p = {**DEFAULT_PORTS, **(ports or {})}
        return cls(**{name: f"http://{host}:{port}" for name, port in p.items()})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
