"""Newcomer limits, after Discourse's new-user limits: spam comes from fresh accounts.

A plain member, during the first `NEWCOMER_HOURS` (24) after joining a community, may write there at most
`NEWCOMER_MAX_POSTS` (3) posts and `NEWCOMER_MAX_COMMENTS` (10) comments, with at most `NEWCOMER_MAX_LINKS`
(2) links (http/https URLs in the text) in any one of them. Owners and admins have no limits. Everything
written counts, pending or deleted too. Over a limit: 429 `rate_limited`, with Retry-After the seconds
until the newcomer period ends (when the limit lifts).

Every member, whatever their role, may also write at most WRITE_RATE_POSTS posts and WRITE_RATE_COMMENTS
comments per WRITE_RATE_WINDOW seconds (`check_flood`; Retry-After: the end of the window).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import asyncpg

from service.core import ratelimit
from service.errors import Problem
from service.feed import queries as q
from service.settings import Settings

_URL = re.compile(r"https?://", re.IGNORECASE)
EXEMPT_ROLES = frozenset({"owner", "admin"})


async def check_flood(conn: asyncpg.Connection, settings: Settings, user_id: int, *, kind: str) -> None:
    """Count one post or comment of this member and raise `rate_limited` past WRITE_RATE_POSTS or
    WRITE_RATE_COMMENTS per WRITE_RATE_WINDOW seconds, whatever their role and however long they have been in."""
    limit = settings.write_rate_posts if kind == "post" else settings.write_rate_comments
    detail = f"at most {limit} {kind}s per {settings.write_rate_window} seconds"
    await ratelimit.hit(conn, {f"write:{kind}:{user_id}": limit}, settings.write_rate_window, detail)


def count_links(text: str) -> int:
    return len(_URL.findall(text))


async def check_newcomer(
    conn: asyncpg.Connection,
    settings: Settings,
    community_id: int,
    user_id: int,
    *,
    kind: str,
    text: str,
    now: datetime | None = None,
    count_posts: bool = True,
) -> None:
    """Raise `rate_limited` when a newcomer would pass a limit by writing ``text`` as a post or comment
    (``count_posts=False``: an edit, only the links count)."""
    membership = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
    if membership is None or membership["role"] in EXEMPT_ROLES:
        return
    now = now or datetime.now(UTC)
    ends = membership["joined_at"] + timedelta(hours=settings.newcomer_hours)
    if now >= ends:
        return
    retry_after = max(1, math.ceil((ends - now).total_seconds()))
    if count_links(text) > settings.newcomer_max_links:
        raise Problem(
            "rate_limited",
            f"new members may include at most {settings.newcomer_max_links} links in one {kind}",
            retry_after=retry_after,
        )
    if not count_posts:
        return
    query, limit = (
        (q.POSTS_SINCE, settings.newcomer_max_posts)
        if kind == "post"
        else (q.COMMENTS_SINCE, settings.newcomer_max_comments)
    )
    written = await conn.fetchrow(query, community_id, user_id, membership["joined_at"])
    if written["written"] >= limit:
        raise Problem(
            "rate_limited",
            f"new members may write {limit} {kind}s in their first {settings.newcomer_hours} hours",
            retry_after=retry_after,
        )
