"""What domains' events become on the sockets: posts to the community's members, comments to those who follow
the post. Published in the transaction that made them visible (core/hooks.py `published`), so they leave on
commit; a post held for review is published when it is released."""

from __future__ import annotations

import asyncpg

from service.core import live
from service.core.hooks import Published
from service.live import queries as q


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


async def on_published(conn: asyncpg.Connection, event: Published) -> None:
    ids = {"communityId": str(event.community_id), "postId": str(event.post_id), "authorId": _id(event.author_id)}
    if event.comment_id is None:
        await live.publish(conn, [live.community(event.community_id)], {"type": "post", **ids})
        return
    followers = await conn.fetch(q.COMMENT_FOLLOWERS, event.post_id, event.author_id or 0, event.community_id)
    targets = [live.user(row["author_id"]) for row in followers]
    await live.publish(conn, targets, {"type": "comment", "commentId": str(event.comment_id), **ids})
