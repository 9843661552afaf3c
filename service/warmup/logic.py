"""The rules of the warm-up robot.

A community is due when the robot is enabled, the app is on, there is at least one topic, it is within the
community's active hours, and the quiet time (inside active hours) since the latest of: a member's post or
comment, the robot's own last warm-up post, the community's creation, reaches `quiet_minutes`. Its own posts
have no author, so they never count as member activity; they only restart the clock, which makes the robot
post at most once per quiet period. Topics are taken in turn (position, then id) and start over after the last.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
from msgspec import UNSET

from service.core.apps import require_app_member
from service.core.content import require_passed
from service.core.paging import fetch_page
from service.core.recurrence import format_hhmm, parse_hhmm
from service.core.revocation import hold_account
from service.errors import Problem
from service.warmup import models as m
from service.warmup import queries as q
from service.warmup.quiet import active_seconds, is_active
from service.wechat.client import WeChatClient

log = logging.getLogger("service.warmup")

APP = "warmup"


def _now() -> datetime:
    return datetime.now(UTC)


async def _admin(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    await require_app_member(conn, community_id, user_id, APP, admin=True)


def _topic(row: asyncpg.Record | None) -> m.WarmupTopic | None:
    if row is None:
        return None
    return m.WarmupTopic(
        id=row["id"],
        text=row["text"],
        position=row["position"],
        used_count=row["used_count"],
        created_at=row["created_at"],
    )


async def _settings_view(conn: asyncpg.Connection, community_id: int) -> m.WarmupSettings:
    await conn.execute(q.ENSURE_SETTINGS, community_id)
    row = await conn.fetchrow(q.SETTINGS, community_id)
    return m.WarmupSettings(
        enabled=row["enabled"],
        quiet_minutes=row["quiet_minutes"],
        active_from=format_hhmm(row["active_from"]),
        active_until=format_hhmm(row["active_until"]),
        time_zone=row["timezone"],
        topic_count=row["topic_count"],
        last_posted_at=row["last_posted_at"],
        last_post_id=None if row["last_post_id"] is None else str(row["last_post_id"]),
        next_topic=_topic(await conn.fetchrow(q.NEXT_TOPIC, community_id, row["last_topic_id"])),
    )


async def get_settings(conn: asyncpg.Connection, community_id: int, user_id: int) -> m.WarmupSettings:
    await _admin(conn, community_id, user_id)
    return await _settings_view(conn, community_id)


async def update_settings(
    conn: asyncpg.Connection, community_id: int, user_id: int, data: m.WarmupSettingsUpdate
) -> m.WarmupSettings:
    async with conn.transaction():
        await _admin(conn, community_id, user_id)
        await conn.execute(q.ENSURE_SETTINGS, community_id)
        row = await conn.fetchrow(q.SETTINGS, community_id)
        await conn.execute(
            q.UPDATE_SETTINGS,
            community_id,
            row["enabled"] if data.enabled is UNSET else data.enabled,
            row["quiet_minutes"] if data.quiet_minutes is UNSET else data.quiet_minutes,
            row["active_from"] if data.active_from is UNSET else parse_hhmm(data.active_from),
            row["active_until"] if data.active_until is UNSET else parse_hhmm(data.active_until),
        )
        return await _settings_view(conn, community_id)


async def list_topics(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int, cursor: str | None
) -> m.WarmupTopicPage:
    await _admin(conn, community_id, user_id)
    items, next_cursor = await fetch_page(
        conn,
        q.TOPICS,
        community_id,
        limit=limit,
        cursor=cursor,
        item=_topic,
        key=("position", "sort_id"),
        types=(int, int),
    )
    return m.WarmupTopicPage(items=items, next_cursor=next_cursor)


async def add_topic(
    pool: asyncpg.Pool, wechat: WeChatClient, community_id: int, user_id: int, data: m.WarmupTopicCreate
) -> m.WarmupTopic:
    text = data.text.strip()
    if not text:
        raise Problem("validation_failed", "the topic must not be blank")
    async with pool.acquire() as conn:
        await _admin(conn, community_id, user_id)
    await require_passed(pool, wechat, user_id, text, "topic")  # the robot publishes it
    async with pool.acquire() as conn, conn.transaction():
        await hold_account(conn, user_id)
        await _admin(conn, community_id, user_id)
        await conn.execute(q.ENSURE_SETTINGS, community_id)
        topic_id = await conn.fetchval(q.INSERT_TOPIC, community_id, text, data.position, user_id)
        return _topic(await conn.fetchrow(q.TOPIC, topic_id, community_id))


async def update_topic(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    community_id: int,
    topic_id: int,
    user_id: int,
    data: m.WarmupTopicUpdate,
) -> m.WarmupTopic:
    text = None if data.text is UNSET else data.text.strip()
    if text == "":
        raise Problem("validation_failed", "the topic must not be blank")
    async with pool.acquire() as conn:
        await _admin(conn, community_id, user_id)
        if await conn.fetchrow(q.TOPIC, topic_id, community_id) is None:
            raise Problem("not_found", "no such topic in this community")
    if text is not None:
        await require_passed(pool, wechat, user_id, text, "topic")  # the robot publishes it
    async with pool.acquire() as conn, conn.transaction():
        await _admin(conn, community_id, user_id)
        position = None if data.position is UNSET else data.position
        if await conn.fetchval(q.UPDATE_TOPIC, topic_id, community_id, text, position) is None:
            raise Problem("not_found", "no such topic in this community")
        return _topic(await conn.fetchrow(q.TOPIC, topic_id, community_id))


async def delete_topic(conn: asyncpg.Connection, community_id: int, topic_id: int, user_id: int) -> None:
    async with conn.transaction():
        await _admin(conn, community_id, user_id)
        if await conn.fetchval(q.DELETE_TOPIC, topic_id, community_id) is None:
            raise Problem("not_found", "no such topic in this community")


# --- the robot ------------------------------------------------------------------------------------------------


def is_due(row: asyncpg.Record, now: datetime) -> bool:
    zone = ZoneInfo(row["timezone"])
    start, end = row["active_from"], row["active_until"]
    if not row["enabled"] or not is_active(now, zone, start, end):
        return False
    moments = [row["community_created_at"], row["last_member_at"], row["last_posted_at"]]
    since = max(moment for moment in moments if moment is not None)
    quiet = row["quiet_minutes"] * 60
    return active_seconds(since, now, zone, start, end, enough=quiet) >= quiet


async def warm_up(pool: asyncpg.Pool, now: datetime | None = None) -> int:
    """The periodic job: post the next topic in every community that has gone quiet. Returns posts made."""
    now = now or _now()
    posted = 0
    for candidate in await pool.fetch(q.CANDIDATES):
        if not is_due(candidate, now):
            continue
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q.LOCK_STATE, candidate["community_id"])
            if row is None or not is_due(row, now):
                continue  # another worker has it, or someone spoke meanwhile
            topic = await conn.fetchrow(q.NEXT_TOPIC, row["community_id"], row["last_topic_id"])
            if topic is None:
                continue
            post_id = await conn.fetchval(q.INSERT_ROBOT_POST, row["community_id"], topic["text"])
            await conn.execute(q.MARK_POSTED, row["community_id"], int(topic["id"]), now, post_id)
            await conn.execute(q.COUNT_USE, int(topic["id"]))
            posted += 1
            log.info("warm-up topic posted", extra={"communityId": row["community_id"], "topicId": topic["id"]})
    return posted
