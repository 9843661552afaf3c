"""Reactions to a visible post: likes, shares, the essence mark. Counters change in the transaction that
changes what they count."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from service.core.access import require_admin, require_member
from service.core.inbox import Item, deliver, likes_recounted
from service.core.interactions import record
from service.feed import models as m
from service.feed import queries as q
from service.feed.locks import lock_post
from service.feed.writing import require_open


async def _open_post_of_member(conn: asyncpg.Connection, post_id: int, user_id: int, *, lock: bool = False) -> Any:
    post = await (lock_post(conn, post_id) if lock else conn.fetchrow(q.POST, post_id))
    require_open(post)
    await require_member(conn, post["community_id"], user_id)
    return post


async def like(conn: asyncpg.Connection, post_id: int, user_id: int) -> m.LikeState:
    """Idempotent: liking a liked post changes nothing."""
    async with conn.transaction():
        post = await _open_post_of_member(conn, post_id, user_id)
        if await conn.fetchval(q.INSERT_LIKE, post_id, user_id, post["community_id"]):
            count = await conn.fetchval(q.ADD_LIKE_COUNT, post_id, 1)
            # Likes received count members, not clicks: liking again after an unlike records nothing, and tells
            # the author nothing (a like-unlike loop would raise the post's item to the top, unread, at will).
            first = await conn.fetchval(q.FIRST_LIKE, post_id, user_id, post["community_id"])
            if first:
                await record(conn, post["community_id"], user_id, "like", post_id=post_id)
            if post["author_id"] is not None:
                author, community_id = post["author_id"], post["community_id"]
                if first:
                    likes = Item(
                        author, "likes", "post", post_id, community_id, user_id, count=count, members_only=True
                    )
                    await deliver(conn, likes)
                # A like that tells nothing (a like again, one the author is not told of) still counts on the item.
                await likes_recounted(conn, author, post_id, count)
        else:
            count = await conn.fetchval(q.LIKE_COUNT, post_id)
    return m.LikeState(post_id=str(post_id), liked=True, like_count=count)


async def unlike(conn: asyncpg.Connection, post_id: int, user_id: int) -> m.LikeState:
    """Idempotent: unliking a post one does not like changes nothing."""
    async with conn.transaction():
        post = await _open_post_of_member(conn, post_id, user_id)
        if await conn.fetchval(q.DELETE_LIKE, post_id, user_id):
            count = await conn.fetchval(q.ADD_LIKE_COUNT, post_id, -1)
            if post["author_id"] is not None:  # the author's item shows the likes left, and goes at 0
                await likes_recounted(conn, post["author_id"], post_id, count)
        else:
            count = await conn.fetchval(q.LIKE_COUNT, post_id)
    return m.LikeState(post_id=str(post_id), liked=False, like_count=count)


async def share(conn: asyncpg.Connection, post_id: int, user_id: int, data: m.ShareCreate) -> m.Share:
    """Each share gets its own code, so whoever joins through its link is credited to this sharer. The post's count
    counts the members who shared it, as likes do: one member sharing again and again (a script) would otherwise lift
    the post up the hot order and into the weekly digest at will."""
    code = secrets.token_urlsafe(9)
    async with conn.transaction():
        post = await _open_post_of_member(conn, post_id, user_id, lock=True)  # one member's shares one at a time
        again = await conn.fetchval(q.SHARED_BEFORE, post["community_id"], user_id, post_id)
        row = await conn.fetchrow(q.INSERT_SHARE, post_id, post["community_id"], user_id, data.target, code)
        count = await conn.fetchval(q.SHARE_COUNT if again else q.ADD_SHARE_COUNT, post_id)
        await record(conn, post["community_id"], user_id, "share", post_id=post_id)
    return m.Share(
        id=str(row["id"]),
        code=code,
        post_id=str(post_id),
        target=data.target,
        share_count=count,
        created_at=row["created_at"],
    )


async def set_essence(conn: asyncpg.Connection, post_id: int, user_id: int, on: bool) -> m.EssenceState:
    """Admins mark a visible post as essence (again: unchanged) or unmark it; both are audited."""
    async with conn.transaction():
        post = await lock_post(conn, post_id)
        require_open(post)
        await require_admin(conn, post["community_id"], user_id)
        essence_at = None
        if on:
            essence_at = await conn.fetchval(q.SET_ESSENCE, post_id, user_id)
        elif post["essence_at"] is not None:
            await conn.execute(q.CLEAR_ESSENCE, post_id)
        if (post["essence_at"] is None) == on:
            action = "post.essence" if on else "post.essence_removed"
            await conn.execute(
                q.INSERT_AUDIT, post["community_id"], user_id, action, post["author_id"], {"postId": str(post_id)}
            )
    return m.EssenceState(post_id=str(post_id), essence=on, essence_at=essence_at)
