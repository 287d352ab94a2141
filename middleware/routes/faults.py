"""`/faults`: the fault plan on the middleware's links (the shared routes, party_common/links/fault_routes.py)."""

from party_common.links.fault_routes import fault_router

router = fault_router()
