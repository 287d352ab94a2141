"""Weekly clinic templates and the slots they generate.

Slots are never stored: a service's weekly template numbers its slots with ordinals (week * slots per
week + index within the week), so finding, validating and listing slots is arithmetic. Only claims
(booked slots) live in the database. All times are UTC; instants are handled as whole minutes since
the Unix epoch, which is also how claims store them.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def hhmm_to_minutes(value: str) -> int:
    hours, _, minutes = value.partition(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m < 60 and h * 60 + m <= MINUTES_PER_DAY):
        raise ValueError(f"not a time of day: {value!r}")
    return h * 60 + m


def date_to_minute(d: date) -> int:
    return (d - EPOCH.date()).days * MINUTES_PER_DAY


def minute_to_datetime(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def minute_to_iso(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute_to_stamp(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%Y%m%d%H%M")


def stamp_to_minute(stamp: str) -> int | None:
    """The minute of a slot id's `YYYYMMDDHHMM` tail; None when it is not exactly that."""
    if len(stamp) != 12 or not stamp.isascii() or not stamp.isdigit():
        return None
    try:
        dt = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int((dt - EPOCH).total_seconds()) // 60


def instant_to_minute(value: str | None) -> int | None:
    """An ISO 8601 instant with a zone as a whole minute; None when absent, zoneless or not whole."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    delta = dt - EPOCH
    if delta.microseconds or delta.seconds % 60:
        return None
    return delta.days * MINUTES_PER_DAY + delta.seconds // 60


@dataclass(frozen=True)
class ClinicSession:
    """A recurring clinic: on these weekdays (0 = Monday), from start to end, slots of this length."""

    days: tuple[int, ...]
    start: str
    end: str
    slot_minutes: int


class WeeklyTemplate:
    """The slots of one service, numbered by ordinal within [first, stop) of the calendar."""

    def __init__(self, sessions: list[ClinicSession], calendar_start: date, horizon_days: int):
        slots: list[tuple[int, int]] = []
        for s in sessions:
            if s.slot_minutes <= 0:
                raise ValueError("slot_minutes must be positive")
            begin, finish = hhmm_to_minutes(s.start), hhmm_to_minutes(s.end)
            for day in s.days:
                if not 0 <= day <= 6:
                    raise ValueError(f"weekday out of range: {day}")
                t = begin
                while t + s.slot_minutes <= finish:
                    slots.append((day * MINUTES_PER_DAY + t, s.slot_minutes))
                    t += s.slot_minutes
        slots.sort()
        for (a, length), (b, _) in zip(slots, slots[1:], strict=False):
            if a + length > b:
                raise ValueError("clinic sessions of one service overlap")
        if not slots:
            raise ValueError("a template needs at least one slot")
        self.sessions = sessions
        self.offsets = [o for o, _ in slots]
        self.lengths = [n for _, n in slots]
        self.per_week = len(slots)
        monday = calendar_start - timedelta(days=calendar_start.weekday())
        self.origin = date_to_minute(monday)
        self.first = self.ordinal_at_or_after(date_to_minute(calendar_start))
        self.stop = self.ordinal_at_or_after(date_to_minute(calendar_start + timedelta(days=horizon_days)))

    @property
    def slot_count(self) -> int:
        return self.stop - self.first

    @property
    def planning_start(self) -> int:
        return self.start_minute(self.first)

    def start_minute(self, k: int) -> int:
        week, i = divmod(k, self.per_week)
        return self.origin + week * MINUTES_PER_WEEK + self.offsets[i]

    def end_minute(self, k: int) -> int:
        return self.start_minute(k) + self.lengths[k % self.per_week]

    def ordinal_at_or_after(self, minute: int) -> int:
        """The ordinal of the first template slot starting at or after `minute` (unbounded)."""
        week, rest = divmod(minute - self.origin, MINUTES_PER_WEEK)
        return week * self.per_week + bisect_left(self.offsets, rest)

    def clamp(self, k: int) -> int:
        return min(max(k, self.first), self.stop)

    def ordinal_of(self, minute: int) -> int | None:
        """The ordinal of the slot starting exactly at `minute` within the calendar, else None."""
        k = self.ordinal_at_or_after(minute)
        if self.first <= k < self.stop and self.start_minute(k) == minute:
            return k
        return None
