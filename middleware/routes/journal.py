"""The journal of the middleware's links (the shared routes) and `GET /queue`: what waits to go to the
legacy PAS, in which mode, what was settled, and each restart with what it lost."""

from __future__ import annotations

from party_common.links.journal_routes import journal_router

from middleware.dependencies import CourierDep, ForwarderDep

router = journal_router()


@router.get("/queue")
async def queue(forwarder: ForwarderDep, courier: CourierDep):
    return {"mode": forwarder.queue.mode, "depth": await forwarder.queue.depth(),
            "restarting": forwarder.restarting, "spine_failures": forwarder.spine_failures,
            "restarts": forwarder.restarts, "held": courier.held_count, **await forwarder.queue.view()}
