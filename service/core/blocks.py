"""Blocks between members, read by every domain (the safety domain writes them: service/safety).

One-directional for content: what a blocked member writes disappears from the blocker's feeds and comment lists,
and they cannot reply to, mention or notify the blocker. Both directions for member lists: neither sees the
other. The fragments below are constant SQL text for the read paths; the functions serve the write paths.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from service.errors import Problem

BLOCKED = "blocked"

_BLOCKERS = """
SELECT blocker_id FROM member_blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::bigint[])
"""


def unblocked(reader: str, author: str) -> str:
    """SQL: ``reader`` has not blocked ``author`` (true for a robot's NULL author, or no reader)."""
    return f"NOT EXISTS (SELECT FROM member_blocks b WHERE b.blocker_id = {reader} AND b.blocked_id = {author})"


def apart(viewer: str, other: str) -> str:
    """SQL: neither of the two blocked the other (member lists)."""
    return f"""NOT EXISTS (SELECT FROM member_blocks b
            WHERE (b.blocker_id = {viewer} AND b.blocked_id = {other})
               OR (b.blocker_id = {other} AND b.blocked_id = {viewer}))"""


async def blockers_among(conn: asyncpg.Connection, actor_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` blocked ``actor_id``."""
    wanted = [user_id for user_id in set(user_ids) if user_id is not None and user_id != actor_id]
    if not wanted:
        return set()
    return {row["blocker_id"] for row in await conn.fetch(_BLOCKERS, actor_id, wanted)}


async def refuse_if_blocked(conn: asyncpg.Connection, actor_id: int, user_ids: Iterable[int], what: str) -> None:
    """403 `blocked` when one of ``user_ids`` blocked ``actor_id`` (``what``: the refused action, for programs)."""
    if await blockers_among(conn, actor_id, user_ids):
        raise Problem(BLOCKED, f"a member blocked you: you cannot {what} them")
