"""A search's parameters as a route argument, read on the event loop.

`SearchSpec.dependency` is a plain function, and FastAPI runs a plain dependency on a worker thread:
the hop to the thread and back cost a trust PAS Slot search about a third of its time. An async
dependency is called in the loop, where reading a query string belongs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from .spec import SearchQuery, SearchSpec


def query_param(spec: SearchSpec):
    """The type of a route parameter that holds the request read against `spec`:
    `q: query_param(SPEC)`."""

    async def parse(request: Request) -> SearchQuery:
        return spec.parse(request)

    return Annotated[SearchQuery, Depends(parse)]
