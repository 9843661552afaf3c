"""Row locks of posts and comments by (community, id): Citus locks a row only on the one shard it names, so the
community is read first (unlocked, by id: a post or comment never moves), then the row is locked by both."""

from __future__ import annotations

import asyncpg

from service.feed import queries as q


async def lock_post(conn: asyncpg.Connection, post_id: int) -> asyncpg.Record | None:
    community_id = await conn.fetchval(q.POST_COMMUNITY, post_id)
    return None if community_id is None else await conn.fetchrow(q.LOCK_POST, post_id, community_id)


async def lock_comment(conn: asyncpg.Connection, comment_id: int) -> asyncpg.Record | None:
    community_id = await conn.fetchval(q.COMMENT_COMMUNITY, comment_id)
    return None if community_id is None else await conn.fetchrow(q.LOCK_COMMENT, comment_id, community_id)
