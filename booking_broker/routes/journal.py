"""The journal (the shared routes, party_common/links/journal_routes.py), the outbox and the metrics,
read over HTTP."""

from __future__ import annotations

from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from party_common.links.journal_routes import journal_router

from booking_broker.dependencies import CourierDep, MetricsDep, OutboxDep

router = journal_router()


@router.get("/outbox")
async def outbox(outbox: OutboxDep, courier: CourierDep):
    return {"depth": await outbox.depth(), "held": courier.held_count}


@router.get("/metrics")
async def metrics(metrics: MetricsDep, outbox: OutboxDep):
    await outbox.depth()
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
