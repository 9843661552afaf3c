"""Reading members' interests (the job writes them: extraction.py) and a member's interest settings."""

from __future__ import annotations

import asyncpg

from service.core.access import require_admin, require_member
from service.core.revocation import hold_account
from service.interests import models as m
from service.interests import queries as q
from service.interests.extraction import COMMUNITY_TAGS, HALF_LIFE, MEMBER_TAGS


async def _introductions(conn: asyncpg.Connection, user_id: int) -> m.InterestSettings:
    row = await conn.fetchrow(q.PREFERENCES, user_id)
    if row is None:
        return m.InterestSettings(introductions=True, updated_at=None)
    return m.InterestSettings(introductions=row["introductions"], updated_at=row["updated_at"])


async def my_interests(conn: asyncpg.Connection, community_id: int, user_id: int) -> m.MyInterests:
    await require_member(conn, community_id, user_id)
    rows = await conn.fetch(q.MEMBER_TAGS, community_id, user_id, HALF_LIFE.total_seconds(), MEMBER_TAGS)
    return m.MyInterests(
        community_id=str(community_id),
        tags=[m.MemberInterest(tag=row["tag"], weight=round(row["weight"], 2)) for row in rows],
        updated_at=max((row["weighed_at"] for row in rows), default=None),
        introductions=(await _introductions(conn, user_id)).introductions,
    )


async def community_interests(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int
) -> m.CommunityInterests:
    await require_admin(conn, community_id, user_id)
    rows = await conn.fetch(q.COMMUNITY_TAGS, community_id, min(limit, COMMUNITY_TAGS))
    return m.CommunityInterests(
        community_id=str(community_id),
        tags=[m.CommunityInterest(tag=r["tag"], members=r["members"], weight=round(r["weight"], 2)) for r in rows],
        computed_at=max((row["computed_at"] for row in rows), default=None),
    )


async def settings(conn: asyncpg.Connection, user_id: int) -> m.InterestSettings:
    return await _introductions(conn, user_id)


async def update_settings(conn: asyncpg.Connection, user_id: int, data: m.InterestSettingsUpdate) -> m.InterestSettings:
    async with conn.transaction():
        await hold_account(conn, user_id)  # erased since the token was checked: 401, no row left under the tombstone
        row = await conn.fetchrow(q.SET_PREFERENCES, user_id, data.introductions)
    return m.InterestSettings(introductions=row["introductions"], updated_at=row["updated_at"])
