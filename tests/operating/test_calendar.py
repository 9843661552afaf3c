"""The calendars on their own: activity recurrences and check-in windows in a community's time zone, and the
warm-up robot's quiet time within active hours. Day boundaries are local: Asia/Shanghai is UTC+8 all year
(no DST), Europe/Berlin changes its offset on the last Sundays of March and October."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.core.recurrence import Schedule, is_time_zone, local_date, upcoming, window_of, windows
from service.warmup.quiet import active_seconds, is_active

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def schedule(recurrence="daily", *, weekdays=(), dates=(), starts_on=date(2025, 3, 1), ends_on=None,
             start=time(6, 0), end=time(9, 0)) -> Schedule:  # fmt: skip
    return Schedule(recurrence, frozenset(weekdays), frozenset(dates), starts_on, ends_on, start, end)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_windows_are_local_wall_clock_in_the_community_zone():
    found = windows(schedule(), date(2025, 3, 1), date(2025, 3, 3), SHANGHAI)
    assert [w.local_date for w in found] == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    # 06:00-09:00 in Shanghai is 22:00-01:00 UTC of the day before: the local day decides.
    assert found[0].opens_at == utc(2025, 2, 28, 22) and found[0].closes_at == utc(2025, 3, 1, 1)
    in_utc = windows(schedule(), date(2025, 3, 1), date(2025, 3, 1), ZoneInfo("UTC"))
    assert in_utc[0].opens_at == utc(2025, 3, 1, 6)


def test_weekly_and_dated_recurrences():
    weekly = windows(schedule("weekly", weekdays={1, 3, 5}), date(2025, 3, 1), date(2025, 3, 14), SHANGHAI)
    assert [w.local_date.isoweekday() for w in weekly] == [1, 3, 5, 1, 3, 5]
    assert weekly[0].local_date == date(2025, 3, 3)  # 1 March 2025 was a Saturday
    dated = schedule("dates", dates={date(2025, 3, 2), date(2025, 3, 9), date(2025, 4, 1)}, ends_on=date(2025, 3, 31))
    assert [w.local_date for w in windows(dated, date(2025, 3, 1), date(2025, 4, 30), SHANGHAI)] == [
        date(2025, 3, 2),
        date(2025, 3, 9),
    ]


def test_a_window_across_midnight_closes_the_next_local_day():
    late = schedule(start=time(22, 0), end=time(1, 30))
    (w,) = windows(late, date(2025, 3, 1), date(2025, 3, 1), SHANGHAI)
    assert w.opens_at == utc(2025, 3, 1, 14) and w.closes_at == utc(2025, 3, 1, 17, 30)
    # At 00:30 local on 2 March the window of 1 March is the open one, and it is still generated.
    now = utc(2025, 3, 1, 16, 30)
    assert local_date(now, SHANGHAI) == date(2025, 3, 2)
    first = upcoming(late, now, SHANGHAI, horizon_days=2, after=None)
    assert first[0].local_date == date(2025, 3, 1) and first[0].opens_at <= now < first[0].closes_at


def test_midnight_in_utc_is_mid_morning_in_shanghai():
    # 2025-03-01T17:30Z is 01:30 on 2 March in Shanghai but still 1 March in UTC.
    now = utc(2025, 3, 1, 17, 30)
    assert local_date(now, SHANGHAI) == date(2025, 3, 2)
    assert local_date(now, ZoneInfo("UTC")) == date(2025, 3, 1)
    early = schedule(start=time(0, 0), end=time(12, 0))
    shanghai = upcoming(early, now, SHANGHAI, horizon_days=1, after=None)
    assert shanghai[0].local_date == date(2025, 3, 2) and shanghai[0].opens_at <= now < shanghai[0].closes_at
    in_utc = upcoming(early, now, ZoneInfo("UTC"), horizon_days=1, after=None)
    # In UTC the window of 1 March closed at 12:00Z: the next one is 2 March's.
    assert in_utc[0].local_date == date(2025, 3, 2) and in_utc[0].opens_at == utc(2025, 3, 2)


def test_upcoming_is_idempotent_from_the_last_generated_day_and_skips_closed_windows():
    now = utc(2025, 3, 1, 2)  # 10:00 in Shanghai: today's 06:00-09:00 window has closed
    created = upcoming(schedule(), now, SHANGHAI, horizon_days=3, after=None)
    assert [w.local_date for w in created] == [date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4)]
    assert upcoming(schedule(), now, SHANGHAI, horizon_days=3, after=date(2025, 3, 4)) == []
    later = upcoming(schedule(), now + timedelta(days=1), SHANGHAI, horizon_days=3, after=date(2025, 3, 4))
    assert [w.local_date for w in later] == [date(2025, 3, 5)]
    ending = upcoming(schedule(ends_on=date(2025, 3, 2)), now, SHANGHAI, horizon_days=3, after=None)
    assert [w.local_date for w in ending] == [date(2025, 3, 2)]


def test_dst_keeps_the_wall_clock_and_moves_the_instant():
    # Berlin moves from UTC+1 to UTC+2 on 30 March 2025 and back on 26 October.
    march = windows(schedule(start=time(9, 0), end=time(10, 0)), date(2025, 3, 29), date(2025, 3, 30), BERLIN)
    assert [w.opens_at for w in march] == [utc(2025, 3, 29, 8), utc(2025, 3, 30, 7)]
    assert all(w.closes_at - w.opens_at == timedelta(hours=1) for w in march)
    # A window across the skipped hour is an hour shorter in real time; one across the repeated hour longer.
    skipped = window_of(date(2025, 3, 30), time(1, 0), time(4, 0), BERLIN)
    repeated = window_of(date(2025, 10, 26), time(1, 0), time(4, 0), BERLIN)
    assert skipped.closes_at - skipped.opens_at == timedelta(hours=2)
    assert repeated.closes_at - repeated.opens_at == timedelta(hours=4)
    # Shanghai has no DST: the same local window is the same UTC instant all year.
    assert window_of(date(2025, 1, 1), time(9), time(10), SHANGHAI).opens_at.time() == time(1)
    assert window_of(date(2025, 7, 1), time(9), time(10), SHANGHAI).opens_at.time() == time(1)


def test_time_zone_names_are_iana_names_only():
    assert is_time_zone("Asia/Shanghai") and is_time_zone("Europe/Berlin") and is_time_zone("UTC")
    for name in ("Mars/Olympus", "localtime", "../../etc/passwd", "", "asia/shanghai"):
        assert not is_time_zone(name)


def test_quiet_time_counts_only_active_hours():
    start, end = time(9, 0), time(22, 0)
    # Silent since 21:30 local on 1 March: at 09:00 on 2 March only 30 minutes of active time have passed.
    since = datetime(2025, 3, 1, 21, 30, tzinfo=SHANGHAI)
    assert active_seconds(since, datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI), SHANGHAI, start, end) == 1800
    assert active_seconds(since, datetime(2025, 3, 2, 11, 0, tzinfo=SHANGHAI), SHANGHAI, start, end) == 9000
    # The same instants counted in UTC hours: 21:30 Shanghai is 13:30 UTC, inside UTC's 09:00-22:00.
    utc_zone = ZoneInfo("UTC")
    assert active_seconds(since, datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI), utc_zone, start, end) == 8.5 * 3600
    assert is_active(datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI), SHANGHAI, start, end)
    assert not is_active(datetime(2025, 3, 2, 8, 59, tzinfo=SHANGHAI), SHANGHAI, start, end)


def test_quiet_time_is_counted_back_until_enough_however_many_days_that_takes():
    hour = (time(9, 0), time(10, 0))
    now = datetime(2025, 3, 31, 9, 30, tzinfo=SHANGHAI)
    since = now - timedelta(days=30)
    # Half of the first day's window, 29 whole ones and half of today's: no fixed look-back cuts it short.
    assert active_seconds(since, now, SHANGHAI, *hour) == 30 * 3600
    # Given what is enough, counting stops once it is reached (whole windows, from the latest back).
    assert active_seconds(since, now, SHANGHAI, *hour, enough=900 * 60) == 15.5 * 3600
    assert active_seconds(now - timedelta(days=3), now, SHANGHAI, *hour, enough=900 * 60) == 3 * 3600


def test_active_hours_across_midnight_and_all_day():
    night = (time(20, 0), time(2, 0))
    since = datetime(2025, 3, 1, 23, 0, tzinfo=SHANGHAI)
    assert active_seconds(since, datetime(2025, 3, 2, 21, 0, tzinfo=SHANGHAI), SHANGHAI, *night) == 4 * 3600
    assert is_active(datetime(2025, 3, 2, 1, 0, tzinfo=SHANGHAI), SHANGHAI, *night)
    assert not is_active(datetime(2025, 3, 2, 3, 0, tzinfo=SHANGHAI), SHANGHAI, *night)
    all_day = (time(0, 0), time(0, 0))
    assert active_seconds(since, since + timedelta(hours=30), SHANGHAI, *all_day) == 30 * 3600
    assert active_seconds(since, since, SHANGHAI, *all_day) == 0
