"""HTTP routes of the legacy PAS (its booking path is MLLP, legacy_pas/mllp_inbox.py); `ROUTERS` in the order the app mounts them."""

from legacy_pas.routes import extract

ROUTERS = tuple(m.router for m in (extract,))
