"""HTTP routes of the middleware, one module per resource or operation; `ROUTERS` in the order the app mounts them."""

from middleware.routes import directory, faults, inbox, journal, slots

ROUTERS = tuple(m.router for m in (slots, directory, inbox, journal, faults))
