"""Recording interactions and presence, rolling them up, computing the metrics of docs/metrics.md."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from service.core import presence
from service.core.days import check_days
from service.errors import Problem
from service.interactions import queries as q
from service.interactions.models import (
    MetricPeriod,
    Metrics,
    MetricValues,
    PresenceSession,
)
from service.settings import Settings

log = logging.getLogger("service.interactions")


MAX_WINDOW_DAYS = 366

# Client events: service/interactions/ingestion.py.


# --- presence ---------------------------------------------------------------------------------------


async def heartbeat(conn: asyncpg.Connection, settings: Settings, user_id: int, community_id: int) -> PresenceSession:
    """Extend the member's open session in the community, or start one after a gap."""
    row = await presence.touch(conn, user_id, community_id, settings.presence_gap_seconds)
    if row is None:  # removed since the caller's check
        raise Problem("not_member")
    return PresenceSession(
        session_id=str(row["id"]),
        started_at=row["started_at"],
        last_seen_at=row["last_seen_at"],
        seconds=(row["last_seen_at"] - row["started_at"]).total_seconds(),
    )


# --- roll-ups ---------------------------------------------------------------------------------------

ROLLUP_OVERLAP = timedelta(minutes=5)  # re-read what transactions still open at the last run committed since


async def rollup_day(conn: asyncpg.Connection, settings: Settings, community_id: int, day: date) -> None:
    """Recompute one community-day of roll-ups from raw events and sessions (idempotent)."""
    start, end = day_bounds(day, settings.metrics_timezone)
    async with conn.transaction():
        await conn.execute(q.CLEAR_DAY, community_id, day)
        for statement in (q.ROLLUP_VIEWS, q.ROLLUP_PRESENCE, q.ROLLUP_CONTRIBUTIONS, q.ROLLUP_DAY):
            await conn.execute(statement, community_id, day, start, end)


async def rollup_incremental(conn: asyncpg.Connection, settings: Settings) -> int:
    """Roll up every community-day touched since the last run; returns how many were recomputed."""
    async with conn.transaction():
        # The upsert locks the state row: concurrent workers roll up one at a time.
        since = await conn.fetchval(q.LOCK_WATERMARK, ROLLUP_OVERLAP)
        new_mark = await conn.fetchval("SELECT clock_timestamp()")
        touched = await conn.fetch(q.TOUCHED_DAYS, since, settings.metrics_timezone)
        for row in touched:
            await rollup_day(conn, settings, row["community_id"], row["day"])
        await conn.execute(q.SET_WATERMARK, new_mark)
    return len(touched)


async def rebuild_speech(conn: asyncpg.Connection, zone: str) -> None:
    """The speech roll-up from the posts and comments themselves, its days in `zone` (writers wait meanwhile)."""
    async with conn.transaction():
        await conn.execute(q.LOCK_SPEECH)
        await conn.execute(q.SET_SPEECH_ZONE, zone)
        await conn.execute(q.REBUILD_SPEECH)


async def rebuild(conn: asyncpg.Connection, settings: Settings) -> int:
    """Recompute the roll-ups of every day whose events are all still stored (every day, unless retention dropped
    some) from raw events and sessions; older days keep theirs. Returns how many community-days were recomputed."""
    # Statistics first: after a restore (pg_restore brings none) or a bulk load, the roll-ups planned without them
    # can run for hours (a benchmark's seed: one day's contributions past 12 minutes), and autovacuum never
    # analyses the events' partitioned parent.
    await conn.execute(q.ANALYZE_SOURCES)
    zone = settings.metrics_timezone
    async with conn.transaction():
        await rebuild_speech(conn, zone)  # from posts and comments, which retention never drops
        await conn.execute(q.LOCK_EVENTS)  # first: a roll-up run holds the events and waits for the roll-ups
        await conn.execute(q.LOCK_ROLLUPS)
        first = first_whole_day(await conn.fetchval(q.EVENTS_KEPT_FROM), zone)
        for statement in q.CLEAR_DAYS_FROM:
            await conn.execute(statement, first)
        days = await conn.fetch(q.ALL_DAYS, zone, first)
        for row in days:
            await rollup_day(conn, settings, row["community_id"], row["day"])
    return len(days)


def first_whole_day(kept_from: datetime | None, zone: str) -> date | None:
    """The first local day that starts when every event is stored (None: every event is)."""
    if kept_from is None:
        return None
    day = kept_from.astimezone(ZoneInfo(zone)).date()
    return day if day_bounds(day, zone)[0] >= kept_from else day + timedelta(days=1)


async def drop_expired_partitions(conn: asyncpg.Connection, settings: Settings, now: datetime) -> list[str]:
    """Drop monthly partitions whose whole month is older than the retention period, and record that every event
    from the cutoff on is still stored (a rebuild keeps the roll-ups of the days before)."""
    months = now.year * 12 + now.month - 1 - settings.event_retention_months
    cutoff = f"{months // 12:04d}{months % 12 + 1:02d}"
    names = [
        r["name"]
        for r in await conn.fetch(q.EVENT_PARTITIONS)
        if r["name"][len("interaction_events_") :].isdigit() and r["name"][len("interaction_events_") :] < cutoff
    ]
    if names:
        async with conn.transaction():
            for name in names:
                await conn.execute(f'DROP TABLE "{name}"')  # names come from the catalogue, never from input
            await conn.execute(q.KEEP_EVENTS_FROM, datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC))
    return names


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return (datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz))


# --- metrics ----------------------------------------------------------------------------------------


def activity_weights(settings: Settings) -> dict[str, float]:
    return {
        "effectiveSpeakers": settings.weight_effective_speakers,
        "validComments": settings.weight_valid_comments,
        "averagePostsViewed": settings.weight_average_posts_viewed,
        "effectivePageViews": settings.weight_effective_page_views,
        "averageOnlineMinutes": settings.weight_average_online_minutes,
        "peakConcurrentUsers": settings.weight_peak_concurrent_users,
        "newMembers": settings.weight_new_members,
    }


def activity_score(settings: Settings, v: dict) -> float:
    w = activity_weights(settings)
    return round(
        w["effectiveSpeakers"] * v["effective_speakers"]
        + w["validComments"] * v["valid_comments"]
        + w["averagePostsViewed"] * v["average_posts_viewed"]
        + w["effectivePageViews"] * v["effective_page_views"]
        + w["averageOnlineMinutes"] * v["average_online_seconds"] / 60
        + w["peakConcurrentUsers"] * v["peak_concurrent_users"]
        + w["newMembers"] * v["new_members"],
        6,
    )


def validate_window(start: date, end: date, fields: tuple[str, str] = ("from", "to"), source: str = "query") -> None:
    check_days(dict(zip(fields, (start, end), strict=True)), source)
    if end < start or (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise Problem("window_too_long", f"from must not be after to, and the window at most {MAX_WINDOW_DAYS} days")


async def compute_metrics(
    conn: asyncpg.Connection,
    settings: Settings,
    community_id: int,
    start: date,
    end: date,
    granularity: str,
    *,
    exact: bool = False,
) -> tuple[list[tuple[date, MetricValues]], MetricValues, datetime | None]:
    """Every metric per period (day, week or month) and over the whole window [start, end]. `exact`: speech from
    the posts and comments themselves rather than the speech roll-up (the same figures; benchmarks compare)."""
    validate_window(start, end)
    zone = settings.metrics_timezone
    window_start, _ = day_bounds(start, zone)
    _, window_end = day_bounds(end, zone)
    rolled_up = not exact and await conn.fetchval(q.SPEECH_ZONE) == zone
    speech_query = q.SPEECH_METRICS if rolled_up else q.SPEECH_METRICS_EXACT
    speech = await conn.fetch(speech_query, community_id, window_start, window_end, zone, granularity)
    views = await conn.fetch(q.VIEW_METRICS, community_id, start, end, granularity)
    presence = await conn.fetch(q.PRESENCE_METRICS, community_id, start, end, granularity)
    days = await conn.fetch(q.DAY_METRICS, community_id, start, end, granularity)

    by_period: dict[date | None, dict] = {}
    for rows in (speech, views, presence, days):
        for row in rows:
            by_period.setdefault(row["period"], {}).update(dict(row))
    by_period.setdefault(None, {})

    def values(raw: dict) -> MetricValues:
        viewing = raw.get("members_viewing") or 0
        online = raw.get("members_online") or 0
        v = {
            "speakers": raw.get("speakers") or 0,
            "effective_speakers": raw.get("effective_speakers") or 0,
            "valid_posts": raw.get("valid_posts") or 0,
            "valid_comments": raw.get("valid_comments") or 0,
            "members_viewing": viewing,
            "average_posts_viewed": round((raw.get("member_posts_viewed") or 0) / viewing, 6) if viewing else 0.0,
            "page_views": int(raw.get("page_views") or 0),
            "effective_page_views": int(raw.get("effective_page_views") or 0),
            "members_online": online,
            "average_online_seconds": round(float(raw.get("online_seconds") or 0) / online, 6) if online else 0.0,
            "peak_concurrent_users": raw.get("peak_concurrent_users") or 0,
            "new_members": int(raw.get("new_members") or 0),
        }
        return MetricValues(**v, activity_score=activity_score(settings, v))

    periods = sorted((p, values(raw)) for p, raw in by_period.items() if p is not None)
    return periods, values(by_period[None]), by_period[None].get("rolled_up_at")


def period_end(period: date, granularity: str, last: date) -> date:
    if granularity == "day":
        following = period + timedelta(days=1)
    elif granularity == "week":
        following = period + timedelta(days=7)
    else:
        following = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return min(following - timedelta(days=1), last)


async def metrics(
    conn: asyncpg.Connection, settings: Settings, community_id: int, start: date, end: date, granularity: str
) -> Metrics:
    periods, total, rolled_up_at = await compute_metrics(conn, settings, community_id, start, end, granularity)
    return Metrics(
        community_id=str(community_id),
        start=start,
        end=end,
        granularity=granularity,
        time_zone=settings.metrics_timezone,
        periods=[MetricPeriod(start=max(p, start), end=period_end(p, granularity, end), values=v) for p, v in periods],
        total=total,
        weights=activity_weights(settings),
        stage=await conn.fetchval(q.STAGE, community_id),  # the daily one (stages.py), not this window's
        rolled_up_at=rolled_up_at,
    )
