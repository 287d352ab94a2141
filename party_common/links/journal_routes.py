"""`/journal` and `/journal/messages`: a carrying party's journal and the message bodies it carried,
read over HTTP (the broker's and the middleware's alike; each adds its own queue view to the router).
They read `app.state.journal` and `app.state.courier`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from party_common.bundles import WITHIN_OFFSET_RANGE
from party_common.fhir_json import FhirResponse


def journal_router() -> APIRouter:
    router = APIRouter()

    @router.get("/journal")
    async def journal(request: Request, since: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE] = 0,
                      _count: Annotated[int, Query(ge=1, le=10000)] = 1000):
        """Entries after sequence number `since`, oldest first; `next` is the `since` for the next page."""
        journal = request.app.state.journal
        entries = await journal.page(since, _count)
        last = entries[-1]["seq"] if entries else since
        # `head` is the last committed entry: a number handed out but not yet written is not shown.
        out = {"entries": entries, "since": since, "last": last, "head": journal.committed}
        if len(entries) == _count:
            out["next"] = str(request.url.include_query_params(since=last))
        return out

    @router.get("/journal/messages")
    async def journal_messages(request: Request, since: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE] = 0,
                               _count: Annotated[int, Query(ge=1, le=10000)] = 1000):
        """The bodies of the messages journaled after `since` (one per decided entry), kept in memory."""
        log = request.app.state.courier.messages
        rows = log.page(since, _count)
        # `first_kept` past `since` + 1 means messages the reader wanted have rolled off the log's budget.
        # A response, not a dict: FastAPI's encoder would walk (and fail on) the kept bodies' fragments.
        return FhirResponse({"messages": rows, "since": since, "last": rows[-1]["seq"] if rows else since,
                             "first_kept": log.first_kept, "rolled_off": log.dropped})

    return router
