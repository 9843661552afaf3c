"""Check-ins (once per occurrence, inside its window, as a content-checked post), streaks, the
ranking, and the community time zone they are counted in."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from service.activities import models as m
from service.activities import queries as q
from service.activities.logic import _activity_for, _invalid, _now, _schedule
from service.activities.manage import _streak_args
from service.activities.occurrences import regenerate
from service.core.access import check_can_post, require_member, require_owner
from service.core.content import openid_of, status_for
from service.core.interactions import record
from service.core.media import claim_images, images_of
from service.core.paging import decode_cursor, encode_cursor, fetch_page
from service.core.recurrence import has_days_after, is_time_zone, local_date
from service.core.revocation import hold_account
from service.core.rows import from_row
from service.errors import FieldError, Problem
from service.settings import Settings
from service.wechat.client import WeChatClient


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
            # No next window, ended by an admin or by its schedule (today's window, the last, has closed or there is
            # none): "come back next time" (check_in_late) would lie.
            if activity["status"] != "active" or (following is None and not _days_to_come(activity, at)):
                raise Problem("activity_ended")
            latest = await conn.fetch(q.LATEST_OPENED, activity["id"], at)
            later = f"; the next window opens at {following['opens_at'].isoformat()}" if following else ""
            if latest:
                raise Problem("check_in_late", f"the window closed at {latest[0]['closes_at'].isoformat()}{later}")
            raise Problem("check_in_not_open", f"no window is open{later}")
    if at < row["opens_at"]:
        raise Problem("check_in_not_open", f"the window opens at {row['opens_at'].isoformat()}")
    if at >= row["closes_at"]:
        raise Problem("check_in_late", f"the window closed at {row['closes_at'].isoformat()}")
    return row


def _days_to_come(activity: asyncpg.Record, at: datetime) -> bool:
    """Whether the activity's schedule has a local day after today's (in the community's time zone)."""
    return has_days_after(_schedule(activity), local_date(at, ZoneInfo(activity["timezone"])))


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
    image_ids = [int(media_id) for media_id in data.image_ids]
    async with pool.acquire() as conn, conn.transaction():
        await hold_account(conn, user_id)  # erased while WeChat judged the text: nothing is stored
        await check_can_post(conn, activity["community_id"], user_id)
        if image_ids and await claim_images(conn, user_id, image_ids) != "approved":
            status = "pending"  # the check-in counts; its post shows once WeChat passed the photos
        check_in_id = await record_check_in(conn, activity, occurrence, user_id, text, status, at, image_ids)
        return _check_in(await conn.fetchrow(q.CHECK_IN, check_in_id))


async def record_check_in(
    conn: asyncpg.Connection,
    activity: asyncpg.Record,
    occurrence: asyncpg.Record,
    user_id: int,
    text: str,
    post_status: str,
    at: datetime,
    image_ids: list[int],
) -> int:
    """In the caller's transaction: the check-in post, the check-in with its streak, the interaction.
    Raises `already_checked_in` (and the transaction must roll back) when the member got there first."""
    post_id = await conn.fetchval(q.INSERT_MEMBER_POST, activity["community_id"], user_id, text, post_status, image_ids)
    # A check-in of the member voided meanwhile (its post deleted) changes the streak this one continues: wait for it.
    await conn.execute(q.LOCK_MEMBER_CHECK_INS, activity["community_id"], activity["id"], user_id)
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
    # Participation (contribution, which rewards pay by) counts once per member and occurrence: a check-in made again
    # after the first one's post went keeps the first one's event, or deleting and checking in would earn it again.
    if not await conn.fetchval(q.CHECKED_IN_BEFORE, activity["community_id"], occurrence["id"], user_id, check_in_id):
        await record(conn, activity["community_id"], user_id, "check_in", post_id=post_id, occurred_at=at)
    return check_in_id


def _check_in(row: asyncpg.Record) -> m.CheckIn:
    return from_row(m.CheckIn, row, images=images_of(row))


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
    items, next_cursor = await fetch_page(
        conn, q.CHECK_INS, activity_id, occurrence_id, of_user, user_id, limit=limit, cursor=cursor, item=_check_in
    )
    return m.CheckInPage(items=items, next_cursor=next_cursor)


async def ranking(
    conn: asyncpg.Connection, activity_id: int, user_id: int, limit: int, cursor: str | None
) -> m.Ranking:
    """A page of the ranking; the cursor is the last item's (check-ins, longest, current streak, user id)."""
    after = decode_cursor(cursor, int, int, int, int) or (None, None, None, None)
    await _activity_for(conn, activity_id, user_id)
    last_id, previous_id, still_open = await _streak_args(conn, activity_id, _now())
    rows = await conn.fetch(q.RANKING, activity_id, last_id, previous_id, still_open, *after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            last["check_ins"], last["longest_streak"], last["current_streak"], last["sort_user_id"]
        )
    return m.Ranking(
        activity_id=str(activity_id),
        items=[from_row(m.RankingEntry, row) for row in rows[:limit]],
        next_cursor=next_cursor,
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
