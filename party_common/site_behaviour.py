"""How one site of a trust answers (`PAS_SITES`, a scenario's `receivers.sites`): how often it is
unavailable, and how slow.

The trust PAS applies it (trust_pas/site_behaviour.py); the harness validates scenario files with it
and hands it to the PAS as `PAS_SITES`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SiteBehaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Fraction of the site's messages answered 503 without being processed.
    unavailable: float = Field(0.0, ge=0, le=1)
    # Added to every answer from the site, in milliseconds.
    delay_ms: int = Field(0, ge=0, le=60_000)
