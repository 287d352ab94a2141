"""The journal, the outbox and the metrics, read over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from party_common.bundles import WITHIN_OFFSET_RANGE
from party_common.fhir_json import FhirResponse

from booking_broker.dependencies import CourierDep, JournalDep, MetricsDep, OutboxDep

router = APIRouter()


@router.get("/journal")
async def journal(request: Request, journal: JournalDep, since: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE] = 0,
                  _count: Annotated[int, Query(ge=1, le=10000)] = 1000):
    """Entries after sequence number `since`, oldest first; `next` is the `since` for the next page."""
    entries = await journal.page(since, _count)
    last = entries[-1]["seq"] if entries else since
    # `head` is the last committed entry: a number handed out but not yet written is not shown.
    out = {"entries": entries, "since": since, "last": last, "head": journal.committed}
    if len(entries) == _count:
        out["next"] = str(request.url.include_query_params(since=last))
    return out


@router.get("/journal/messages")
async def journal_messages(courier: CourierDep, since: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE] = 0,
                           _count: Annotated[int, Query(ge=1, le=10000)] = 1000):
    """The bodies of the messages journaled after `since` (one per decided entry), kept in memory."""
    log = courier.messages
    rows = log.page(since, _count)
    # `first_kept` past `since` + 1 means messages the reader wanted have rolled off the log's budget.
    # A response, not a dict: FastAPI's encoder would walk (and fail on) the kept bodies' fragments.
    return FhirResponse({"messages": rows, "since": since, "last": rows[-1]["seq"] if rows else since,
                         "first_kept": log.first_kept, "rolled_off": log.dropped})


@router.get("/outbox")
async def outbox(outbox: OutboxDep, courier: CourierDep):
    return {"depth": await outbox.depth(), "held": courier.held_count}


@router.get("/metrics")
async def metrics(metrics: MetricsDep, outbox: OutboxDep):
    await outbox.depth()
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
