"""A member's profile in a community (members only): who they are there and what they contributed. Their
posts are the feed domain's (GET .../members/{user_id}/posts)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from service.communities import profile_models as pm
from service.communities import profile_queries as q
from service.core.access import require_member
from service.core.rows import from_row
from service.errors import Problem

_EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


async def profile(conn: asyncpg.Connection, community_id: int, reader_id: int, user_id: int) -> pm.MemberProfile:
    await require_member(conn, community_id, reader_id)
    row = await conn.fetchrow(q.PROFILE, community_id, user_id, reader_id)
    if row is None:
        raise Problem("not_found", "no such member")
    speech = await conn.fetchrow(q.VALID_SPEECH, community_id, *_EVER, user_id)
    figures = pm.ProfileFigures(
        valid_posts=speech["valid_posts"] if speech else 0,
        valid_comments=speech["valid_comments"] if speech else 0,
        essence_posts=row["essence_count"],
        check_ins=row["check_ins"],
        current_streak=row["current_streak"],
        longest_streak=row["longest_streak"],
        points=row["points"],
    )
    return from_row(pm.MemberProfile, row, contribution=figures)
