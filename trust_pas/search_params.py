"""FHIR search parameters as this service reads them; a bad value is a 400 naming the parameter."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from starlette.datastructures import QueryParams

from party_common.bundles import MAX_OFFSET
from party_common.outcome import invalid

from .schedule import EPOCH

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_PREFIXES = ("eq", "ge", "gt", "le", "lt")


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


def _micro(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def date_range(value: str, name: str) -> tuple[int, int]:
    """The span [low, high) in epoch microseconds a FHIR date/dateTime search value stands for."""
    m = _DATE.match(value)
    if not m:
        raise invalid(f"{name}: {value!r} is not a FHIR date or dateTime", name)
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        else:
            # A dateTime without a zone is read as UTC, the zone every slot is published in.
            tz = timezone.utc
        y = int(year)
        if month is None:
            low = datetime(y, 1, 1, tzinfo=tz)
            high = datetime(y + 1, 1, 1, tzinfo=tz)
        elif day is None:
            mo = int(month)
            low = datetime(y, mo, 1, tzinfo=tz)
            high = low + timedelta(days=calendar.monthrange(y, mo)[1])
        elif hour is None:
            low = datetime(y, int(month), int(day), tzinfo=tz)
            high = low + timedelta(days=1)
        else:
            low = datetime(y, int(month), int(day), int(hour), int(minute), int(second or 0),
                           int((fraction or ".0")[1:7].ljust(6, "0")), tzinfo=tz)
            if fraction:
                step = timedelta(microseconds=max(1, 10 ** (6 - min(len(fraction) - 1, 6))))
            else:
                step = timedelta(seconds=1) if second is not None else timedelta(minutes=1)
            high = low + step
    except (ValueError, OverflowError):
        raise invalid(f"{name}: {value!r} is not a valid date", name) from None
    return _micro(low), _micro(high)


@dataclass
class TimeWindow:
    """Bounds on an instant, in epoch microseconds: low <= t < high (None = unbounded)."""

    low: int | None = None
    high: int | None = None

    def low_minute(self) -> int | None:
        return None if self.low is None else -(-self.low // 60_000_000)

    def high_minute(self) -> int | None:
        return None if self.high is None else -(-self.high // 60_000_000)


def time_window(params: QueryParams, name: str) -> TimeWindow:
    """Every `name` value (repeatable, prefixes eq/ge/gt/le/lt) folded into one window."""
    window = TimeWindow()

    def raise_low(v: int) -> None:
        window.low = v if window.low is None else max(window.low, v)

    def lower_high(v: int) -> None:
        window.high = v if window.high is None else min(window.high, v)

    for raw in params.getlist(name):
        # An unencoded '+' of a zone offset arrives as a space.
        value = raw.strip().replace(" ", "+")
        prefix = value[:2] if value[:2].isalpha() else "eq"
        if value[:2].isalpha():
            value = value[2:]
            if prefix not in _PREFIXES:
                raise invalid(f"{name}: prefix {prefix!r} is not supported (use ge, gt, le, lt or eq)", name)
        low, high = date_range(value, name)
        if prefix == "ge":
            raise_low(low)
        elif prefix == "gt":
            raise_low(high)
        elif prefix == "lt":
            lower_high(low)
        elif prefix == "le":
            lower_high(high)
        else:
            raise_low(low)
            lower_high(high)
    return window
