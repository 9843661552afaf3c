"""Recording interactions and presence, rolling them up, computing the metrics of docs/metrics.md."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from service.core import presence
from service.errors import FieldError, Problem
from service.interactions import queries as q
from service.interactions.models import (
    BatchResult,
    ClientEvent,
    EventBatch,
    MetricPeriod,
    Metrics,
    MetricValues,
    PresenceSession,
    RejectedEvent,
)
from service.settings import Settings

log = logging.getLogger("service.interactions")


CLIENT_KINDS = frozenset({"page_view", "post_view", "share_open"})
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_WINDOW_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


# --- client events ----------------------------------------------------------------------------------


async def ingest(conn: asyncpg.Connection, settings: Settings, user_id: int, batch: EventBatch) -> BatchResult:
    """Accept the valid events of a batch, reject the others one by one; retries are absorbed."""
    if len(batch.events) > settings.event_batch_max:
        raise Problem("batch_too_large", f"at most {settings.event_batch_max} events per batch")
    now = datetime.now(UTC)
    oldest = now - timedelta(days=settings.event_max_age_days)
    rejected: list[RejectedEvent] = []
    candidates: list[tuple[int, ClientEvent]] = []
    seen: set[tuple[str, datetime]] = set()

    def reject(index: int, event: ClientEvent, code: str, message: str) -> None:
        rejected.append(RejectedEvent(index=index, id=event.id, code=code, message=message))

    for index, event in enumerate(batch.events):
        at = _aware(event.at)
        if at > now + FUTURE_TOLERANCE:
            reject(index, event, "in_future", "the event's time is in the future")
        elif at < oldest:
            reject(index, event, "too_old", f"events older than {settings.event_max_age_days} days are refused")
        elif event.type in ("post_view", "share_open") and event.post_id is None:
            reject(index, event, "post_required", f"{event.type} needs postId")
        elif event.type == "page_view" and event.page is None and event.post_id is None:
            reject(index, event, "page_required", "page_view needs page or postId")
        elif (event.id, at) in seen:
            reject(index, event, "duplicate_in_batch", "the same id and time appear twice in this batch")
        else:
            seen.add((event.id, at))
            candidates.append((index, event))

    community_ids = {int(e.community_id) for _, e in candidates}
    post_ids = {int(e.post_id) for _, e in candidates if e.post_id is not None}
    visible = await conn.fetchrow(q.VISIBLE_TARGETS, user_id, community_ids, post_ids)
    visible_communities = set(visible["communities"])
    post_community = dict(zip(visible["post_ids"], visible["post_communities"], strict=True))

    rows: list[EventRow] = []
    for index, event in candidates:
        community_id = int(event.community_id)
        post_id = int(event.post_id) if event.post_id is not None else None
        if community_id not in visible_communities:
            reject(index, event, "unknown_community", "no such community, or you are not a member")
        elif post_id is not None and post_community.get(post_id) != community_id:
            reject(index, event, "unknown_post", "no such post in that community")
        else:
            target = f"post:{post_id}" if post_id is not None else f"page:{event.page}"
            rows.append(EventRow(community_id, event.type, post_id, target, event.dwell_ms, event.id, _aware(event.at)))

    inserted = await conn.fetchval(q.INSERT_CLIENT_EVENTS, user_id, rows) if rows else 0
    rejected.sort(key=lambda r: r.index)
    return BatchResult(accepted=inserted, duplicates=len(rows) - inserted, rejected=rejected)


class EventRow(msgspec.Struct, omit_defaults=False):
    """A row of interaction_events as INSERT_CLIENT_EVENTS reads it from JSON."""

    community_id: int
    kind: str
    post_id: int | None
    target: str
    dwell_ms: int | None
    client_event_id: str
    occurred_at: datetime


def _aware(at: datetime) -> datetime:
    # RFC 3339 requires an offset; a client that omits it means UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# --- presence ---------------------------------------------------------------------------------------


async def heartbeat(conn: asyncpg.Connection, settings: Settings, user_id: int, community_id: int) -> PresenceSession:
    """Extend the member's open session in the community, or start one after a gap."""
    row = await presence.touch(conn, user_id, community_id, settings.presence_gap_seconds)
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
        await conn.execute(q.REBUILD_SPEECH, zone)


async def rebuild(conn: asyncpg.Connection, settings: Settings) -> int:
    """Recompute every roll-up from raw events and sessions."""
    async with conn.transaction():
        await rebuild_speech(conn, settings.metrics_timezone)
        await conn.execute("TRUNCATE rollup_views, rollup_presence, rollup_contributions, rollup_days")
        days = await conn.fetch(q.ALL_DAYS, settings.metrics_timezone)
        for row in days:
            await rollup_day(conn, settings, row["community_id"], row["day"])
    return len(days)


async def drop_expired_partitions(conn: asyncpg.Connection, settings: Settings, now: datetime) -> list[str]:
    """Drop monthly partitions whose whole month is older than the retention period."""
    months = now.year * 12 + now.month - 1 - settings.event_retention_months
    cutoff = f"{months // 12:04d}{months % 12 + 1:02d}"
    names = [
        r["name"]
        for r in await conn.fetch(q.EVENT_PARTITIONS)
        if r["name"][len("interaction_events_") :].isdigit() and r["name"][len("interaction_events_") :] < cutoff
    ]
    for name in names:
        await conn.execute(f'DROP TABLE "{name}"')  # names come from the catalogue, never from input
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
    # Local midnights of year 1 or 9999 fall outside what PostgreSQL and datetime can hold (a 500 before this).
    outside = [
        FieldError(field=name, message=f"a day from {FIRST_DAY} to {LAST_DAY}", source=source)
        for name, day in zip(fields, (start, end), strict=True)
        if not FIRST_DAY <= day <= LAST_DAY
    ]
    if outside:
        raise Problem("validation_failed", "day out of range", errors=outside)
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
