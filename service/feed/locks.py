"""Row locks of posts and comments, by their community (read first: service/core/rows.py says why)."""

from __future__ import annotations

import asyncpg

from service.core.rows import lock_in_community
from service.feed import queries as q


async def lock_post(conn: asyncpg.Connection, post_id: int) -> asyncpg.Record | None:
    return await lock_in_community(conn, q.POST_COMMUNITY, q.LOCK_POST, post_id)


async def lock_comment(conn: asyncpg.Connection, comment_id: int) -> asyncpg.Record | None:
    return await lock_in_community(conn, q.COMMENT_COMMUNITY, q.LOCK_COMMENT, comment_id)
