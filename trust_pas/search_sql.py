"""Date search values against the PAS's instants, which it stores as text (`2027-01-04T09:30:00Z`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, and_, false, true

from party_common.search import SearchQuery
from party_common.search.dates import EPOCH


def _as_stored(micros: int) -> str | None:
    """A bound written as stored instants are; None past year 9999, beyond anything stored."""
    # Stored instants are whole seconds in UTC, so they compare as text with the bound rounded up to
    # the second: t >= b exactly when t >= ceil(b).
    try:
        dt = EPOCH + timedelta(seconds=-(-micros // 1_000_000))
    except OverflowError:
        return None
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"


def instant_condition(q: SearchQuery, name: str, column) -> ColumnElement | None:
    """A date parameter against a column of UTC instants written `YYYY-MM-DDTHH:MM:SSZ`; None when
    the parameter is not given."""
    if not q.has(name):
        return None
    window = q.window(name)
    conditions = []
    if window.low is not None:
        low = _as_stored(window.low)
        conditions.append(false() if low is None else column >= low)
    if window.high is not None:
        high = _as_stored(window.high)
        if high is not None:
            conditions.append(column < high)
    return and_(*conditions) if conditions else true()
