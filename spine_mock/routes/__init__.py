"""HTTP routes of the spine, one module per resource or operation; `ROUTERS` in the order the app mounts them."""

from spine_mock.routes import appointments, demographics, inbox, ubrn

ROUTERS = tuple(m.router for m in (demographics, ubrn, inbox, appointments))
