"""FHIR date search values: a value stands for a span of time, a prefix compares against it.

`start=2026-12-07` means the whole day; `start=ge2026-12-07T09:00:00+00:00` means from that second
on. Every value of a parameter is folded into one window (repeated parameters are AND-ed, as FHIR
says), in epoch microseconds so comparisons need no time-zone arithmetic.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from party_common.outcome import invalid

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
PREFIXES = ("eq", "ge", "gt", "le", "lt")


def micros(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_instant(value: str) -> int | None:
    """A resource's dateTime/instant as epoch microseconds (its own precision's start); None if unreadable."""
    try:
        return date_range(value, "value")[0]
    except Exception:
        return None


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
    return micros(low), micros(high)


@dataclass
class TimeWindow:
    """Bounds on an instant, in epoch microseconds: low <= t < high (None = unbounded)."""

    low: int | None = None
    high: int | None = None

    def low_minute(self) -> int | None:
        return None if self.low is None else -(-self.low // 60_000_000)

    def high_minute(self) -> int | None:
        return None if self.high is None else -(-self.high // 60_000_000)

    def holds(self, instant: int | None) -> bool:
        if instant is None:
            return self.low is None and self.high is None
        return (self.low is None or instant >= self.low) and (self.high is None or instant < self.high)

    def raise_low(self, v: int) -> None:
        self.low = v if self.low is None else max(self.low, v)

    def lower_high(self, v: int) -> None:
        self.high = v if self.high is None else min(self.high, v)


def split_prefix(raw: str, name: str) -> tuple[str, str]:
    # An unencoded '+' of a zone offset arrives as a space.
    value = raw.strip().replace(" ", "+")
    if value[:2].isalpha():
        prefix, value = value[:2], value[2:]
        if prefix not in PREFIXES:
            raise invalid(f"{name}: prefix {prefix!r} is not supported (use ge, gt, le, lt or eq)", name)
        return prefix, value
    return "eq", value


def fold(window: TimeWindow, raw: str, name: str) -> None:
    """Narrows `window` by one search value."""
    prefix, value = split_prefix(raw, name)
    low, high = date_range(value, name)
    if prefix == "ge":
        window.raise_low(low)
    elif prefix == "gt":
        window.raise_low(high)
    elif prefix == "lt":
        window.lower_high(low)
    elif prefix == "le":
        window.lower_high(high)
    else:
        window.raise_low(low)
        window.lower_high(high)


def time_window(values: list[str], name: str) -> TimeWindow:
    """Every value of a date parameter (repeatable, AND-ed) folded into one window."""
    window = TimeWindow()
    for raw in values:
        fold(window, raw, name)
    return window
