"""Robots write posts and comments under their own identity (the `robots` table: nickname and avatar).

The welcome robot (communities), the digest robot (feed) and the keyword robot (robots) all write through
these two helpers: no author, `robot` set, visible at once, never recorded as member activity and never
counted in a post's comment count.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

RobotName = Literal["welcome", "digest", "keyword"]

_INSERT_POST = """
INSERT INTO posts (community_id, robot, kind, text, greeted_id, greeting) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""

_INSERT_COMMENT = """
INSERT INTO comments (community_id, post_id, parent_id, reply_to_id, robot, text) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""


async def post_as_robot(
    conn: asyncpg.Connection,
    community_id: int,
    robot: RobotName,
    kind: str,
    text: str,
    *,
    greeted: tuple[int, list[str]] | None = None,
) -> int:
    """A robot's post in a community; returns its id. ``greeted``: the member a welcome greets and the text split
    where their nickname went (the erasure re-joins it around 已注销用户)."""
    greeted_id, greeting = greeted or (None, None)
    return await conn.fetchval(_INSERT_POST, community_id, robot, kind, text, greeted_id, greeting)


async def comment_as_robot(
    conn: asyncpg.Connection,
    community_id: int,
    post_id: int,
    robot: RobotName,
    text: str,
    *,
    thread_id: int | None = None,
    reply_to_id: int | None = None,
) -> int:
    """A robot's comment on a post, or its reply in the thread ``thread_id`` to the comment ``reply_to_id``."""
    return await conn.fetchval(_INSERT_COMMENT, community_id, post_id, thread_id, reply_to_id, robot, text)
