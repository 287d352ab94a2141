"""HTTP routes of the GP system, one module per resource or operation; `ROUTERS` in the order the app mounts them."""

from gp_system.routes import appointments, bookings, inbox, practices, referrals

ROUTERS = tuple(m.router for m in (practices, referrals, bookings, appointments, inbox))
