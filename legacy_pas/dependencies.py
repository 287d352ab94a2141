"""Route dependencies of the legacy PAS: a database session, and the extract's query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.outcome import invalid

EXTRACT_PARAMETERS = {"format", "trust"}


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


@dataclass(frozen=True)
class ExtractQuery:
    format: Literal["csv", "json"]
    trust: str | None


async def get_extract_query(
    request: Request,
    format: Annotated[Literal["csv", "json"], Query(description="csv (the default) or json")] = "csv",
    trust: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,16}$",
                                       description="only this trust's rows (its ODS code)")] = None,
) -> ExtractQuery:
    # An extract asked for with a parameter it does not know would silently give every row.
    unknown = sorted(set(request.query_params) - EXTRACT_PARAMETERS)
    if unknown:
        raise invalid(f"unknown query parameter {unknown[0]!r}: the extract takes format and trust", unknown[0])
    return ExtractQuery(format, trust.upper() if trust else None)


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ExtractQueryDep = Annotated[ExtractQuery, Depends(get_extract_query)]
