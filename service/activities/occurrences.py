"""Occurrences of theme activities: generated ahead from the schedule in the community's time zone,
one per activity and local day, and announced by the robot when their window opens."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from service.activities import queries as q
from service.activities.logic import ANNOUNCE_BATCH, GENERATE_BATCH, ROBOT, _now, _schedule
from service.core.recurrence import (
    format_hhmm,
    local_date,
    upcoming,
)
from service.core.rows import claim_each
from service.settings import Settings


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
                locked = await conn.fetchrow(q.LOCK_ACTIVITY, row["community_id"], row["id"])
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
        due = await conn.fetch(q.DUE_ANNOUNCEMENTS, now, activity_id, ANNOUNCE_BATCH)
        for row in await claim_each(conn, due, q.LOCK_ANNOUNCEMENT):  # none another worker holds or announced
            if row["closes_at"] <= now or row["status"] != "active":
                await conn.execute(q.MARK_ANNOUNCED, row["id"], None, now)
            elif row["app_active"]:
                post_id = await conn.fetchval(
                    q.INSERT_ROBOT_POST, row["community_id"], ROBOT, "activity", _announcement(row)
                )
                await conn.execute(q.MARK_ANNOUNCED, row["id"], post_id, now)
                posted += 1
    return posted
