"""A search's parameters as a route argument: `q: query_param(SPEC)`, short for
`Annotated[SearchQuery, Depends(SPEC.dependency)]` (read on the event loop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from .spec import SearchQuery, SearchSpec


def query_param(spec: SearchSpec):
    """The type of a route parameter that holds the request read against `spec`:
    `q: query_param(SPEC)`."""
    return Annotated[SearchQuery, Depends(spec.dependency)]
