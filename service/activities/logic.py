"""The rules of theme activities and check-ins.

- Occurrences are generated ahead (ACTIVITIES_HORIZON_DAYS) from the schedule in the community's time zone,
  idempotently (one per activity and local day), and announced by the robot when their window opens.
- A member checks in once per occurrence, inside its window; the check-in is a post of kind 'check_in',
  content-checked first, recorded as the interaction 'check_in' in the same transaction.
- A streak is a run of consecutive occurrences checked into: a missed occurrence breaks it. Each check-in
  stores the run it completes, so longest and current streaks and the ranking are plain aggregates.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from msgspec import UNSET

from service.activities import models as m
from service.activities import queries as q
from service.core.access import ADMIN_ROLES, check_can_post, require_member, require_owner
from service.core.apps import require_app, require_app_member
from service.core.content import openid_of, status_for
from service.core.interactions import record
from service.core.paging import decode_cursor, encode_cursor
from service.core.recurrence import (
    Schedule,
    format_hhmm,
    is_time_zone,
    local_date,
    parse_hhmm,
    upcoming,
)
from service.core.rows import from_row
from service.errors import FieldError, Problem
from service.settings import Settings
from service.wechat.client import WeChatClient

log = logging.getLogger("service.activities")


APP = "activities"
ROBOT = "activities"
ANNOUNCE_BATCH = 200
GENERATE_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(errors: list[tuple[str, str]]) -> Problem:
    return Problem(
        "validation_failed",
        "invalid activity",
        errors=[FieldError(field=field, message=message, source="body") for field, message in errors],
    )


def _schedule(row: asyncpg.Record | dict) -> Schedule:
    return Schedule(
        recurrence=row["recurrence"],
        weekdays=frozenset(row["weekdays"]),
        dates=frozenset(row["dates"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        window_start=row["window_start"],
        window_end=row["window_end"],
    )


def _check_schedule(values: dict, today: date | None) -> None:
    """The schedule as a whole; `today` (local) when the start must not be in the past."""
    errors: list[tuple[str, str]] = []
    recurrence = values["recurrence"]
    if recurrence == "weekly" and not values["weekdays"]:
        errors.append(("weekdays", "required when recurrence is weekly"))
    if recurrence != "weekly" and values["weekdays"]:
        errors.append(("weekdays", "only for a weekly recurrence"))
    if recurrence == "dates" and not values["dates"]:
        errors.append(("dates", "required when recurrence is dates"))
    if recurrence != "dates" and values["dates"]:
        errors.append(("dates", "only for a recurrence of dates"))
    if values["window_start"] == values["window_end"]:
        errors.append(("windowEnd", "must differ from windowStart"))
    if today is not None and values["starts_on"] < today:
        errors.append(("startsOn", f"must not be before today ({today.isoformat()} in the community's zone)"))
    if values["ends_on"] is not None and values["ends_on"] < values["starts_on"]:
        errors.append(("endsOn", "must not be before startsOn"))
    if recurrence == "dates" and values["dates"] and today is not None and max(values["dates"]) < today:
        errors.append(("dates", "every date is in the past"))
    if errors:
        raise _invalid(errors)


# --- access ------------------------------------------------------------------------------------------------------


async def _activity_for(
    conn: asyncpg.Connection, activity_id: int, user_id: int, *, admin: bool = False, lock: bool = False
) -> asyncpg.Record:
    """The activity, for an active member of its community (anyone else: `not_found`), with the app on."""
    row = await conn.fetchrow(q.LOCK_ACTIVITY if lock else q.ACTIVITY, activity_id)
    if row is None:
        raise Problem("not_found", "no such activity")
    try:
        standing = await require_member(conn, row["community_id"], user_id)
    except Problem as exc:
        if exc.code == "not_member":
            raise Problem("not_found", "no such activity") from None
        raise
    await require_app(conn, row["community_id"], APP)
    if admin and standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the community's admins manage its activities")
    return row


async def _admin_in(conn: asyncpg.Connection, community_id: int, user_id: int) -> str:
    """The community's time zone, for one of its admins, with the app on."""
    await require_app_member(conn, community_id, user_id, APP, admin=True)
    return await conn.fetchval(q.COMMUNITY_TIME_ZONE, community_id)


# --- occurrences: generation and announcements ---------------------------------------------------------------------


async def generate(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime, horizon_days: int) -> int:
    """Create the activity's occurrences up to the horizon (idempotent); returns how many windows were due."""
    zone = ZoneInfo(row["timezone"])
    due = upcoming(_schedule(row), now, zone, horizon_days, row["generated_until"])
    if due:
        await conn.execute(
            q.INSERT_OCCURRENCES,
            row["id"],
            row["community_id"],
            [w.local_date for w in due],
            [w.opens_at for w in due],
            [w.closes_at for w in due],
        )
    await conn.execute(q.SET_GENERATED_UNTIL, row["id"], local_date(now, zone) + timedelta(days=horizon_days))
    return len(due)


async def regenerate(conn: asyncpg.Connection, activity_id: int, now: datetime, horizon_days: int) -> None:
    """After a change of schedule or time zone: drop the occurrences not yet open and generate them again."""
    await conn.execute(q.DELETE_UNOPENED, activity_id, now)
    await conn.execute(q.SET_GENERATED_UNTIL, activity_id, None)
    row = await conn.fetchrow(q.ACTIVITY, activity_id)
    if row["status"] == "active":
        await generate(conn, row, now, horizon_days)


async def generate_due(pool: asyncpg.Pool, settings: Settings, now: datetime | None = None) -> int:
    """The generation job: every active activity whose occurrences fall a day behind the horizon. Local days
    differ from the UTC day by at most one, so occurrences always exist at least HORIZON - 2 (>= 1) days ahead."""
    now = now or _now()
    horizon = settings.activities_horizon_days
    cutoff = now.date() + timedelta(days=horizon - 1)
    created = 0
    async with pool.acquire() as conn:
        for row in await conn.fetch(q.TO_GENERATE, cutoff, GENERATE_BATCH):
            async with conn.transaction():
                locked = await conn.fetchrow(q.LOCK_ACTIVITY, row["id"])
                if locked["status"] == "active":
                    created += await generate(conn, locked, now, horizon)
    return created


def _announcement(row: asyncpg.Record) -> str:
    start, end = format_hhmm(row["window_start"]), format_hhmm(row["window_end"])
    return f"【{row['title']}】{row['prompt']}\n打卡时间：{row['local_date']:%m-%d} {start}–{end}"


async def announce_due(conn: asyncpg.Connection, now: datetime, activity_id: int | None = None) -> int:
    """The robot announces each occurrence that has opened (once: the rows are locked, then marked). One that
    closed before it could be announced (worker down, app off) is marked without a post."""
    posted = 0
    async with conn.transaction():
        for row in await conn.fetch(q.DUE_ANNOUNCEMENTS, now, activity_id, ANNOUNCE_BATCH):
            if row["closes_at"] <= now or row["status"] != "active":
                await conn.execute(q.MARK_ANNOUNCED, row["id"], None, now)
            elif row["app_active"]:
                post_id = await conn.fetchval(
                    q.INSERT_ROBOT_POST, row["community_id"], ROBOT, "activity", _announcement(row)
                )
                await conn.execute(q.MARK_ANNOUNCED, row["id"], post_id, now)
                posted += 1
    return posted


# --- activities ------------------------------------------------------------------------------------------------------


def _occurrence(row: asyncpg.Record | None) -> m.Occurrence | None:
    if row is None:
        return None
    return m.Occurrence(
        id=str(row["id"]),
        local_date=row["local_date"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        post_id=None if row["post_id"] is None else str(row["post_id"]),
        check_in_count=row["check_in_count"],
    )


async def _streak_args(
    conn: asyncpg.Connection, activity_id: int, now: datetime
) -> tuple[int | None, int | None, bool]:
    latest = await conn.fetch(q.LATEST_OPENED, activity_id, now)
    last_id = latest[0]["id"] if latest else None
    previous_id = latest[1]["id"] if len(latest) > 1 else None
    return last_id, previous_id, bool(latest) and latest[0]["closes_at"] > now


async def _activity_view(conn: asyncpg.Connection, row: asyncpg.Record, user_id: int, now: datetime) -> m.Activity:
    current = await conn.fetchrow(q.OPEN_OCCURRENCE, row["id"], now)
    following = await conn.fetchrow(q.NEXT_OCCURRENCE, row["id"], now)
    last_id, previous_id, still_open = await _streak_args(conn, row["id"], now)
    mine = await conn.fetchrow(q.STANDINGS, row["id"], last_id, previous_id, still_open, user_id)
    checked_now = current is not None and await conn.fetchval(q.HAS_CHECKED_IN, current["id"], user_id)
    return m.Activity(
        id=str(row["id"]),
        community_id=str(row["community_id"]),
        title=row["title"],
        prompt=row["prompt"],
        recurrence=row["recurrence"],
        weekdays=list(row["weekdays"]),
        dates=list(row["dates"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        window_start=format_hhmm(row["window_start"]),
        window_end=format_hhmm(row["window_end"]),
        time_zone=row["timezone"],
        reward_points=row["reward_points"],
        status=row["status"],
        created_at=row["created_at"],
        current=_occurrence(current),
        next=_occurrence(following),
        me=m.MyProgress(
            checked_in_now=bool(checked_now),
            check_ins=mine["check_ins"] if mine else 0,
            points=mine["points"] if mine else 0,
            current_streak=mine["current_streak"] if mine else 0,
            longest_streak=mine["longest_streak"] if mine else 0,
        ),
    )


async def create_activity(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    settings: Settings,
    community_id: int,
    user_id: int,
    data: m.ActivityCreate,
) -> m.Activity:
    now = _now()
    async with pool.acquire() as conn:
        zone_name = await _admin_in(conn, community_id, user_id)
        openid = await openid_of(conn, user_id)
    today = local_date(now, ZoneInfo(zone_name))
    values = {
        **msgspec.structs.asdict(data),
        "window_start": parse_hhmm(data.window_start),
        "window_end": parse_hhmm(data.window_end),
        "weekdays": sorted(set(data.weekdays)),
        "dates": sorted(set(data.dates)),
        "starts_on": data.starts_on or today,
    }
    _check_schedule(values, today)
    # The robot publishes the title and prompt: they pass content safety like a member's post.
    if await status_for(wechat, openid, f"{data.title}\n{data.prompt}") != "visible":
        raise Problem("content_rejected", "the title or prompt needs review; rephrase it")
    async with pool.acquire() as conn, conn.transaction():
        await _admin_in(conn, community_id, user_id)  # still an admin, app still on
        activity_id = await conn.fetchval(
            q.INSERT_ACTIVITY,
            community_id,
            user_id,
            data.title,
            data.prompt,
            data.recurrence,
            values["weekdays"],
            values["dates"],
            values["starts_on"],
            data.ends_on,
            values["window_start"],
            values["window_end"],
            data.reward_points,
        )
        row = await conn.fetchrow(q.ACTIVITY, activity_id)
        await generate(conn, row, now, settings.activities_horizon_days)
        await announce_due(conn, now, activity_id)
        return await _activity_view(conn, await conn.fetchrow(q.ACTIVITY, activity_id), user_id, now)


async def get_activity(conn: asyncpg.Connection, activity_id: int, user_id: int) -> m.Activity:
    row = await _activity_for(conn, activity_id, user_id)
    return await _activity_view(conn, row, user_id, _now())


async def list_activities(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.ActivityPage:
    await require_app_member(conn, community_id, user_id, APP)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.ACTIVITIES, community_id, status, after[0] if after else None, limit + 1)
    items = [
        m.ActivitySummary(
            id=row["id"],
            title=row["title"],
            recurrence=row["recurrence"],
            window_start=format_hhmm(row["window_start"]),
            window_end=format_hhmm(row["window_end"]),
            reward_points=row["reward_points"],
            status=row["status"],
            next_opens_at=row["next_opens_at"],
            created_at=row["created_at"],
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1]["sort_id"]) if len(rows) > limit else None
    return m.ActivityPage(items=items, next_cursor=next_cursor)


async def update_activity(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    settings: Settings,
    activity_id: int,
    user_id: int,
    data: m.ActivityUpdate,
) -> m.Activity:
    now = _now()
    sent = {name for name in data.__struct_fields__ if getattr(data, name) is not UNSET}
    if sent & {"title", "prompt"}:
        async with pool.acquire() as conn:
            row = await _activity_for(conn, activity_id, user_id, admin=True)
            openid = await openid_of(conn, user_id)
        title = row["title"] if data.title is UNSET else data.title
        prompt = row["prompt"] if data.prompt is UNSET else data.prompt
        if await status_for(wechat, openid, f"{title}\n{prompt}") != "visible":
            raise Problem("content_rejected", "the title or prompt needs review; rephrase it")
    async with pool.acquire() as conn, conn.transaction():
        row = await _activity_for(conn, activity_id, user_id, admin=True, lock=True)
        if row["status"] != "active":
            raise Problem("activity_ended")
        values = dict(row)
        for name in sent:
            value = getattr(data, name)
            if name in ("window_start", "window_end"):
                value = parse_hhmm(value)
            elif name == "weekdays" or name == "dates":
                value = sorted(set(value))
            values[name] = value
        _check_schedule(values, None)
        await conn.execute(
            q.UPDATE_ACTIVITY,
            activity_id,
            values["title"],
            values["prompt"],
            values["reward_points"],
            values["window_start"],
            values["window_end"],
            values["weekdays"],
            values["dates"],
            values["ends_on"],
        )
        if sent & {"window_start", "window_end", "weekdays", "dates", "ends_on"}:
            await regenerate(conn, activity_id, now, settings.activities_horizon_days)
        return await _activity_view(conn, await conn.fetchrow(q.ACTIVITY, activity_id), user_id, now)


async def end_activity(conn: asyncpg.Connection, activity_id: int, user_id: int) -> None:
    """End it now: no more occurrences; the open one (if any) still takes check-ins until it closes."""
    async with conn.transaction():
        row = await _activity_for(conn, activity_id, user_id, admin=True, lock=True)
        if row["status"] == "ended":
            return
        await conn.execute(q.END_ACTIVITY, activity_id)
        await conn.execute(q.DELETE_UNOPENED, activity_id, _now())


async def list_occurrences(
    conn: asyncpg.Connection, activity_id: int, user_id: int, limit: int, cursor: str | None
) -> m.OccurrencePage:
    """Occurrences that have opened, newest first."""
    await _activity_for(conn, activity_id, user_id)
    after = decode_cursor(cursor, datetime, int)
    rows = await conn.fetch(q.OCCURRENCES, activity_id, *(after or (None, None)), _now(), limit + 1)
    items = [_occurrence(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["opens_at"], last["id"])
    return m.OccurrencePage(items=items, next_cursor=next_cursor)


# --- check-ins -------------------------------------------------------------------------------------------------------


async def _target_occurrence(
    conn: asyncpg.Connection, activity: asyncpg.Record, occurrence_id: int | None, at: datetime
) -> asyncpg.Record:
    if occurrence_id is not None:
        row = await conn.fetchrow(q.OCCURRENCE, occurrence_id)
        if row is None or row["activity_id"] != activity["id"]:
            raise Problem("not_found", "no such occurrence of this activity")
    else:
        row = await conn.fetchrow(q.OPEN_OCCURRENCE, activity["id"], at)
        if row is None:
            following = await conn.fetchrow(q.NEXT_OCCURRENCE, activity["id"], at)
            latest = await conn.fetch(q.LATEST_OPENED, activity["id"], at)
            later = f"; the next window opens at {following['opens_at'].isoformat()}" if following else ""
            if latest:
                raise Problem("check_in_late", f"the window closed at {latest[0]['closes_at'].isoformat()}{later}")
            if activity["status"] != "active":
                raise Problem("activity_ended")
            raise Problem("check_in_not_open", f"no window is open{later}")
    if at < row["opens_at"]:
        raise Problem("check_in_not_open", f"the window opens at {row['opens_at'].isoformat()}")
    if at >= row["closes_at"]:
        raise Problem("check_in_late", f"the window closed at {row['closes_at'].isoformat()}")
    return row


async def check_in(
    pool: asyncpg.Pool, wechat: WeChatClient, activity_id: int, user_id: int, data: m.CheckInCreate
) -> m.CheckIn:
    """Check into the open occurrence (or the one named): late, early and duplicate check-ins answer 409.
    The window is judged at the moment the request arrived, not after the content check."""
    at = _now()
    text = data.text.strip()
    if not text:
        raise _invalid([("text", "must not be blank")])
    occurrence_id = int(data.occurrence_id) if data.occurrence_id else None
    async with pool.acquire() as conn:
        activity = await _activity_for(conn, activity_id, user_id)
        await check_can_post(conn, activity["community_id"], user_id)
        occurrence = await _target_occurrence(conn, activity, occurrence_id, at)
        if await conn.fetchval(q.HAS_CHECKED_IN, occurrence["id"], user_id):
            raise Problem("already_checked_in", f"already checked into the occurrence of {occurrence['local_date']}")
        openid = await openid_of(conn, user_id)
    status = await status_for(wechat, openid, text)
    async with pool.acquire() as conn, conn.transaction():
        await check_can_post(conn, activity["community_id"], user_id)
        check_in_id = await record_check_in(conn, activity, occurrence, user_id, text, data.image_urls, status, at)
        return _check_in(await conn.fetchrow(q.CHECK_IN, check_in_id))


async def record_check_in(
    conn: asyncpg.Connection,
    activity: asyncpg.Record,
    occurrence: asyncpg.Record,
    user_id: int,
    text: str,
    image_urls: list[str],
    post_status: str,
    at: datetime,
) -> int:
    """In the caller's transaction: the check-in post, the check-in with its streak, the interaction.
    Raises `already_checked_in` (and the transaction must roll back) when the member got there first."""
    post_id = await conn.fetchval(
        q.INSERT_MEMBER_POST, activity["community_id"], user_id, text, image_urls, post_status
    )
    check_in_id = await conn.fetchval(
        q.INSERT_CHECK_IN,
        occurrence["id"],
        activity["id"],
        activity["community_id"],
        user_id,
        post_id,
        activity["reward_points"],
        occurrence["opens_at"],
        at,
    )
    if check_in_id is None:
        raise Problem("already_checked_in", f"already checked into the occurrence of {occurrence['local_date']}")
    await record(conn, activity["community_id"], user_id, "check_in", post_id=post_id, occurred_at=at)
    return check_in_id


def _check_in(row: asyncpg.Record) -> m.CheckIn:
    return from_row(m.CheckIn, row)


async def list_check_ins(
    conn: asyncpg.Connection,
    activity_id: int,
    user_id: int,
    occurrence_id: int | None,
    of_user: int | None,
    limit: int,
    cursor: str | None,
) -> m.CheckInPage:
    await _activity_for(conn, activity_id, user_id)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(
        q.CHECK_INS, activity_id, occurrence_id, of_user, user_id, after[0] if after else None, limit + 1
    )
    items = [_check_in(row) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["sort_id"]) if len(rows) > limit else None
    return m.CheckInPage(items=items, next_cursor=next_cursor)


async def ranking(conn: asyncpg.Connection, activity_id: int, user_id: int, limit: int) -> m.Ranking:
    await _activity_for(conn, activity_id, user_id)
    last_id, previous_id, still_open = await _streak_args(conn, activity_id, _now())
    rows = await conn.fetch(q.RANKING, activity_id, last_id, previous_id, still_open, None, limit)
    return m.Ranking(
        activity_id=str(activity_id),
        items=[from_row(m.RankingEntry, row) for row in rows],
    )


# --- the community's time zone ------------------------------------------------------------------------------------


async def get_time_zone(conn: asyncpg.Connection, community_id: int, user_id: int) -> m.TimeZoneSetting:
    await require_member(conn, community_id, user_id)
    return m.TimeZoneSetting(time_zone=await conn.fetchval(q.COMMUNITY_TIME_ZONE, community_id))


async def set_time_zone(
    conn: asyncpg.Connection, settings: Settings, community_id: int, user_id: int, data: m.TimeZoneSetting
) -> m.TimeZoneSetting:
    """The owner sets the zone; occurrences not yet open are generated again in the new zone."""
    if not is_time_zone(data.time_zone):
        error = FieldError(field="timeZone", message="not an IANA time zone name", source="body")
        raise Problem("validation_failed", "unknown time zone", errors=[error])
    now = _now()
    async with conn.transaction():
        await require_owner(conn, community_id, user_id)
        if await conn.fetchval(q.COMMUNITY_TIME_ZONE, community_id) != data.time_zone:
            await conn.execute(q.SET_COMMUNITY_TIME_ZONE, community_id, data.time_zone)
            for row in await conn.fetch(q.ACTIVITIES_OF_COMMUNITY, community_id):
                await regenerate(conn, row["id"], now, settings.activities_horizon_days)
    return m.TimeZoneSetting(time_zone=data.time_zone)
