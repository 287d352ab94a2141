"""HTTP routes of the booking broker, one module per resource or operation; `ROUTERS` in the order the app mounts them."""

from booking_broker.routes import directory, faults, inbox, journal, ledger, referrals, replay, slots

ROUTERS = tuple(m.router for m in (directory, slots, inbox, ledger, referrals, faults, replay, journal))
