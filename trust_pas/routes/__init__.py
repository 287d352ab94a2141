"""HTTP routes of the trust PAS, one module per resource or operation; `ROUTERS` in the order the app mounts them."""

from trust_pas.routes import appointments, directory, inbox, referrals, slots

ROUTERS = tuple(m.router for m in (directory, slots, inbox, appointments, referrals))
