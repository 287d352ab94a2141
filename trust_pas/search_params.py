"""FHIR search parameters as this service reads them; a bad value is a 400 naming the parameter."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from party_common.bundles import MAX_OFFSET
from party_common.outcome import invalid

from party_common.search import dates
from party_common.search.dates import TimeWindow

def single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise invalid(f"search parameter {name} may be given once", name)
    return values[0] if values else None


def count_param(params: QueryParams, name: str = "_count", *, default: int, maximum: int) -> int:
    """A page size; above the maximum is served as the maximum, as FHIR lets a server do."""
    raw = single(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be a whole number, got {raw!r}", name) from None
    if value < 0:
        raise invalid(f"{name} must not be negative", name)
    return min(value, maximum)


def offset_param(params: QueryParams, name: str = "_offset") -> int:
    raw = single(params, name)
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be a whole number, got {raw!r}", name) from None
    if value < 0:
        raise invalid(f"{name} must not be negative", name)
    if value > MAX_OFFSET:
        raise invalid(f"{name} must be at most {MAX_OFFSET}", name)
    return value


def time_window(params: QueryParams, name: str) -> TimeWindow:
    """Every `name` value (repeatable, prefixes eq/ge/gt/le/lt) folded into one window."""
    return dates.time_window(params.getlist(name), name)
