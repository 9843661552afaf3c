"""The public preview of a shared post: what anyone who opens a share's link sees, member or not.

Only a visible, undeleted post is previewed; pending, hidden, refused and deleted ones answer 404 like a post
that never existed, so a preview tells nothing a member could not see. Reads are limited per client address.
"""

from __future__ import annotations

import asyncpg

from service.core import ratelimit
from service.core.rows import from_row
from service.errors import Problem
from service.feed import models as m
from service.feed import queries as q
from service.settings import Settings


def _outcome(row: asyncpg.Record) -> str:
    # A series always has room: a join to a full sister admits to another (communities/series.py check_room).
    if row["member_count"] >= row["member_cap"] and not row["in_series"]:
        return "full"
    return {"free": "join", "approval": "request", "paid": "pay"}[row["entry_mode"]]


async def preview(conn: asyncpg.Connection, settings: Settings, code: str, address: str) -> m.SharePreview:
    limits = {f"share-preview:{address}": settings.share_previews_per_minute}
    await ratelimit.hit(conn, limits, 60, "too many share previews")
    row = await conn.fetchrow(q.SHARE_PREVIEW, code, m.EXCERPT_MAX)
    if row is None:
        raise Problem("not_found", "no such share, or its post is not visible")
    return m.SharePreview(
        code=row["code"],
        sharer_nickname=row["sharer_nickname"],
        post=from_row(m.PreviewPost, row, author_nickname=row["name"] if row["robot"] else row["author_nickname"]),
        community=from_row(m.CommunityCard, row, id=row["community_id"]),
        join=m.HowToJoin(outcome=_outcome(row), share_code=row["code"]),
    )
