"""Settings of the legacy PAS (environment prefix `LEGACY_PAS_`; docs/legacy-pas.md)."""

from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from party_common.settings import PartySettings

# The first trust's MLLP port when LEGACY_PAS_MLLP_PORTS does not name it (the next trust's is one up).
FIRST_MLLP_PORT = 2575


class Settings(PartySettings):
    model_config = SettingsConfigDict(env_prefix="LEGACY_PAS_", extra="ignore")

    port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./.testbed/legacy_pas.db"
    # First day of every clinic calendar and how far ahead it runs: as the trust PAS has them, so a
    # trust's slots have the same ids at either.
    calendar_start: date = date(2027, 1, 4)
    horizon_days: int = 182
    # The trusts this PAS keeps, shaped as PAS_TRUSTS (party_common/trust_catalogue.py); none by default.
    trusts: list[dict] = []
    # {"<ODS>": port} for the trusts' MLLP listeners; a trust not named listens on FIRST_MLLP_PORT plus
    # its place in `trusts`. Port 0 lets the system choose (GET /health says which).
    mllp_ports: dict[str, int] = {}
    mllp_host: str = "127.0.0.1"
    # How long the PAS takes to answer a booking (SIU), on its clock: the slow interim PAS.
    ack_delay_ms: float = Field(0.0, ge=0)
    public_url: str | None = None

    def mllp_port_map(self, trusts: list[str]) -> dict[str, int]:
        """The port each trust listens on; raises ValueError naming what is wrong."""
        ports = {ods.upper(): port for ods, port in self.mllp_ports.items()}
        unknown = sorted(set(ports) - set(trusts))
        if unknown:
            raise ValueError(f"LEGACY_PAS_MLLP_PORTS names trusts this PAS does not keep: {', '.join(unknown)}")
        chosen = {ods: ports.get(ods, FIRST_MLLP_PORT + i) for i, ods in enumerate(trusts)}
        for ods, port in chosen.items():
            if not 0 <= port <= 65535:
                raise ValueError(f"LEGACY_PAS_MLLP_PORTS: {ods} port {port} is not a TCP port")
        taken = [p for p in chosen.values() if p]
        if len(taken) != len(set(taken)):
            raise ValueError(f"two trusts would listen on one MLLP port: {chosen}")
        return chosen
