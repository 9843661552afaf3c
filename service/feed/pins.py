"""Pinned notices: admins pin up to 3 visible posts of their community; the feed's first page starts with
them in the order pinned (page_queries.py), and cached pages notice a change by the pins they were read with
(reading.py). Pinning and unpinning are idempotent and audited."""

from __future__ import annotations

import asyncpg

from service.core.access import require_admin
from service.core.rows import from_row
from service.errors import Problem
from service.feed import models as m
from service.feed import pin_queries as pq
from service.feed import queries as q
from service.feed.page_queries import PIN_LIMIT


async def _pins(conn: asyncpg.Connection, community_id: int) -> m.Pins:
    return m.Pins(items=[from_row(m.Pin, row) for row in await conn.fetch(pq.PINS, community_id)])


async def pin(conn: asyncpg.Connection, community_id: int, user_id: int, data: m.PinCreate) -> m.Pins:
    post_id = int(data.post_id)
    async with conn.transaction():
        await require_admin(conn, community_id, user_id)
        await conn.execute(pq.LOCK_COMMUNITY, community_id)
        post = await conn.fetchrow(q.POST, post_id)
        if post is None or post["community_id"] != community_id or post["deleted_at"] is not None:
            raise Problem("not_found", "no such post in this community")
        if post["status"] != "visible":
            raise Problem("post_not_pinnable")
        await conn.execute(pq.DROP_STALE_PINS, community_id)
        pins = await _pins(conn, community_id)
        if any(p.post_id == str(post_id) for p in pins.items):
            return pins
        if len(pins.items) >= PIN_LIMIT:
            raise Problem("pin_limit_reached")
        await conn.execute(pq.INSERT_PIN, community_id, post_id, user_id)
        details = {"postId": str(post_id)}
        await conn.execute(q.INSERT_AUDIT, community_id, user_id, "post.pinned", post["author_id"], details)
        return await _pins(conn, community_id)


async def unpin(conn: asyncpg.Connection, community_id: int, user_id: int, post_id: int) -> m.Pins:
    """Unpinning a post that is not pinned changes nothing."""
    async with conn.transaction():
        await require_admin(conn, community_id, user_id)
        await conn.execute(pq.LOCK_COMMUNITY, community_id)
        if await conn.fetchval(pq.DELETE_PIN, community_id, post_id) is not None:
            details = {"postId": str(post_id)}
            await conn.execute(q.INSERT_AUDIT, community_id, user_id, "post.unpinned", None, details)
        return await _pins(conn, community_id)
