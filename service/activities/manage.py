"""Theme activities as admins manage them and members read them: schedule, edit, end, list, their occurrences."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from msgspec import UNSET

from service.activities import models as m
from service.activities import queries as q
from service.activities.logic import APP, _activity_for, _admin_in, _check_schedule, _now
from service.activities.occurrences import announce_due, generate, regenerate
from service.core.apps import require_app_member
from service.core.content import openid_of, status_for
from service.core.paging import decode_cursor, encode_cursor
from service.core.recurrence import (
    format_hhmm,
    local_date,
    parse_hhmm,
)
from service.core.revocation import hold_account
from service.core.rows import from_row
from service.errors import Problem
from service.settings import Settings
from service.wechat.client import WeChatClient


def _occurrence(row: asyncpg.Record | None) -> m.Occurrence | None:
    if row is None:
        return None
    return from_row(m.Occurrence, row)


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
    return from_row(
        m.Activity,
        row,
        window_start=format_hhmm(row["window_start"]),
        window_end=format_hhmm(row["window_end"]),
        time_zone=row["timezone"],
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
        await hold_account(conn, user_id)
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
