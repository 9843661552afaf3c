"""When a theme activity happens: its local days and check-in windows, in the community's time zone.

Pure functions, so the calendar is tested on its own. A window is local wall-clock time: it opens at
`window_start` on the local day and closes at `window_end` the same day, or the next day when `window_end` is
earlier (a window across midnight). Across a DST change the wall-clock times stay put and the UTC instants move;
a time that does not exist that day (spring forward) is read with the offset before the change, i.e. one hour
later on the clock, and an ambiguous one (fall back) as its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_DAYS = 400  # never walk more local days than this in one call


@dataclass(frozen=True)
class Schedule:
    recurrence: str  # daily | weekly | dates
    weekdays: frozenset[int]  # ISO weekdays, weekly only
    dates: frozenset[date]  # 'dates' only
    starts_on: date
    ends_on: date | None
    window_start: time
    window_end: time


@dataclass(frozen=True)
class Window:
    local_date: date
    opens_at: datetime
    closes_at: datetime


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_time_zone(name: str) -> bool:
    """An IANA zone name of the zoneinfo database (not a file path, not the system's 'localtime')."""
    if name in _NOT_ZONES or not _ZONE_NAME.match(name) or name not in _known_zones():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


_ZONES: frozenset[str] | None = None
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def _known_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def window_of(day: date, start: time, end: time, zone: ZoneInfo) -> Window:
    opens = datetime.combine(day, start, tzinfo=zone)
    closes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=zone)
    return Window(day, opens.astimezone(UTC), closes.astimezone(UTC))


def happens_on(schedule: Schedule, day: date) -> bool:
    if day < schedule.starts_on or (schedule.ends_on is not None and day > schedule.ends_on):
        return False
    if schedule.recurrence == "daily":
        return True
    if schedule.recurrence == "weekly":
        return day.isoweekday() in schedule.weekdays
    return day in schedule.dates


def has_days_after(schedule: Schedule, day: date) -> bool:
    """Whether the schedule has a local day after ``day``: none once its end date, or the last of its dates, is
    ``day`` or earlier (or a weekly schedule's weekdays fall no more before its end)."""
    first = max(day + timedelta(days=1), schedule.starts_on)
    if schedule.recurrence == "dates":
        return any(d >= first and happens_on(schedule, d) for d in schedule.dates)
    return any(happens_on(schedule, first + timedelta(days=n)) for n in range(7))


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    for _ in range(MAX_DAYS):
        if day > last:
            return
        yield day
        day += timedelta(days=1)


def windows(schedule: Schedule, first: date, last: date, zone: ZoneInfo) -> list[Window]:
    """The activity's windows on the local days first..last (inclusive)."""
    start, end = schedule.window_start, schedule.window_end
    return [window_of(day, start, end, zone) for day in _days(first, last) if happens_on(schedule, day)]


def upcoming(schedule: Schedule, now: datetime, zone: ZoneInfo, horizon_days: int, after: date | None) -> list[Window]:
    """Windows to create now: local days from yesterday (a window across midnight may still be open) or the
    day after `after`, up to today + horizon, those that have not closed yet. Idempotent with the
    (activity, local day) uniqueness of occurrences."""
    today = local_date(now, zone)
    first = max(schedule.starts_on, today - timedelta(days=1))
    if after is not None:
        first = max(first, after + timedelta(days=1))
    last = today + timedelta(days=horizon_days)
    if schedule.ends_on is not None:
        last = min(last, schedule.ends_on)
    return [w for w in windows(schedule, first, last, zone) if w.closes_at > now]


def format_hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def sorted_unique(values: Iterable[int]) -> list[int]:
    return sorted(set(values))
