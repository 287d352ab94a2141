"""Search values as SQL conditions on a party's columns, and one page of a search run in SQL.

The search layer (`party_common.search`) reads a request into a `SearchQuery` and knows nothing of
tables; a party whose resources are rows turns the query's values into WHERE clauses here, so the
database counts and pages the matches instead of the party loading every row to test it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.identifiers import canonical_system
from party_common.search import SearchQuery, offset_next, search_bundle
from party_common.search.dates import EPOCH
from party_common.search.tokens import ANY, NONE, Token, split_values


def _token_holds(token: Token, system: str, column) -> ColumnElement:
    if token.system is NONE:
        return false()  # `|code` asks for an identifier without a system; the column's all have one
    if token.system is not ANY and token.system != canonical_system(system):
        return false()
    return column.is_not(None) if token.code is ANY else column == token.code


def identifier_condition(q: SearchQuery, name: str, system: str, column) -> ColumnElement | None:
    """`name` (a token parameter) against a column holding values of one identifier `system`:
    AND over the parameter's occurrences, OR over each one's comma-separated tokens; None when the
    parameter is not given."""
    if not q.has(name):
        return None
    return and_(*(or_(*(_token_holds(t, system, column) for t in alternatives)) for alternatives in q.tokens(name)))


def codes_condition(q: SearchQuery, name: str, column) -> ColumnElement | None:
    """A code parameter (`status`) against a column holding the code; systems are not compared."""
    codes = q.codes(name)
    return None if codes is None else column.in_(sorted(codes))


def ids_condition(q: SearchQuery, column) -> ColumnElement | None:
    ids = q.ids()
    return None if ids is None else column.in_(sorted(ids))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def string_condition(q: SearchQuery, name: str, column) -> ColumnElement | None:
    """A FHIR string parameter: the column starts with the value, case ignored (FHIR's default match)."""
    if not q.has(name):
        return None
    return and_(*(or_(*(func.lower(column).like(_escape_like(v.lower()) + "%", escape="\\")
                         for v in split_values(raw))) for raw in q.values(name)))


def _day_at_or_after(micros: int) -> date | None:
    """The first day whose midnight (UTC) is at or after `micros`; None when no day is."""
    try:
        moment = EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return date.min if micros < 0 else None
    day = moment.date()
    if moment == datetime(day.year, day.month, day.day, tzinfo=timezone.utc):
        return day
    return None if day == date.max else day + timedelta(days=1)


def day_condition(q: SearchQuery, name: str, column) -> ColumnElement | None:
    """A date parameter against a column of days (a birth date), each day standing at its midnight UTC."""
    if not q.has(name):
        return None
    window = q.window(name)
    conditions = []
    if window.low is not None:
        low = _day_at_or_after(window.low)
        conditions.append(false() if low is None else column >= low)
    if window.high is not None:
        high = _day_at_or_after(window.high)
        if high is not None:
            conditions.append(column < high)
    return and_(*conditions) if conditions else true()


async def sql_page(session: AsyncSession, q: SearchQuery, stmt: Select, *conditions: ColumnElement | None,
                   order_by: tuple = ()) -> tuple[list, int]:
    """The page `q` asks for of `stmt` narrowed by `conditions` (None ones skipped), and the total."""
    where = [c for c in conditions if c is not None]
    narrowed = stmt.where(*where)
    total = (await session.execute(select(func.count()).select_from(narrowed.subquery()))).scalar_one()
    if q.total_only or q.offset >= total:
        return [], total
    rows = (await session.execute(narrowed.order_by(*order_by).offset(q.offset).limit(q.count))).scalars().all()
    return list(rows), total


async def sql_searchset(session: AsyncSession, q: SearchQuery, stmt: Select, *conditions: ColumnElement | None,
                        order_by: tuple, resource: Callable[[Any], dict], base: str, path: str) -> dict:
    """The searchset of `sql_page`'s page, `resource` making each row its FHIR resource."""
    rows, total = await sql_page(session, q, stmt, *conditions, order_by=order_by)
    return search_bundle(q, [resource(r) for r in rows], total=total, base=base, path=path,
                         next_position=offset_next(q, total))
