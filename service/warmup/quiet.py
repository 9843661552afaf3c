"""Quiet time within active hours, in the community's time zone. Pure functions, tested on their own.

Active hours are a daily local window `active_from`..`active_until`; an end earlier than the start spans
midnight, and equal times mean all day. Quiet time counts only the seconds inside active hours: a community
that falls silent at 21:30 with hours 09:00-22:00 has been quiet 30 minutes at 09:00 the next morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Quiet periods last at most a week; looking further back changes nothing.
LOOKBACK = timedelta(days=14)


def window(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The active window that starts on local day ``day``, in UTC."""
    opens = datetime.combine(day, start, tzinfo=zone)
    if start == end:
        closes = datetime.combine(day + timedelta(days=1), start, tzinfo=zone)
    else:
        closes = datetime.combine(day + timedelta(days=1) if end < start else day, end, tzinfo=zone)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def active_seconds(since: datetime, until: datetime, zone: ZoneInfo, start: time, end: time) -> float:
    """Seconds between ``since`` and ``until`` that fall inside active hours."""
    since = max(since, until - LOOKBACK)
    if since >= until:
        return 0.0
    total = 0.0
    day = since.astimezone(zone).date() - timedelta(days=1)  # yesterday's window may span midnight
    last = until.astimezone(zone).date()
    while day <= last:
        opens, closes = window(day, start, end, zone)
        overlap = (min(closes, until) - max(opens, since)).total_seconds()
        if overlap > 0:
            total += overlap
        day += timedelta(days=1)
    return total


def is_active(now: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    today = now.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        opens, closes = window(day, start, end, zone)
        if opens <= now < closes:
            return True
    return False
