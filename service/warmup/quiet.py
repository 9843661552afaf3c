"""Quiet time within active hours, in the community's time zone. Pure functions, tested on their own.

Active hours are a daily local window `active_from`..`active_until`; an end earlier than the start spans
midnight, and equal times mean all day. Quiet time counts only the seconds inside active hours: a community
that falls silent at 21:30 with hours 09:00-22:00 has been quiet 30 minutes at 09:00 the next morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def window(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The active window that starts on local day ``day``, in UTC."""
    opens = datetime.combine(day, start, tzinfo=zone)
    if start == end:
        closes = datetime.combine(day + timedelta(days=1), start, tzinfo=zone)
    else:
        closes = datetime.combine(day + timedelta(days=1) if end < start else day, end, tzinfo=zone)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def active_seconds(
    since: datetime, until: datetime, zone: ZoneInfo, start: time, end: time, enough: float | None = None
) -> float:
    """Seconds between ``since`` and ``until`` that fall inside active hours. With ``enough``, counted back from
    ``until`` and stopped once it is reached: a silence of any length costs at most the days ``enough`` takes
    (quietMinutes 10080 with one active hour a day: 168 days), never a fixed look-back that a long quiet time
    with short hours would never fill."""
    if since >= until:
        return 0.0
    total = 0.0
    day = until.astimezone(zone).date()
    first = since.astimezone(zone).date() - timedelta(days=1)  # that day's window may span midnight
    while day >= first and (enough is None or total < enough):
        opens, closes = window(day, start, end, zone)
        overlap = (min(closes, until) - max(opens, since)).total_seconds()
        if overlap > 0:
            total += overlap
        day -= timedelta(days=1)
    return total


def is_active(now: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    today = now.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        opens, closes = window(day, start, end, zone)
        if opens <= now < closes:
            return True
    return False
