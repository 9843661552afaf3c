"""Writing comments: a comment or a reply (joining its thread), and deleting one (the counters follow)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Response

from service.core.access import require_admin, require_member
from service.core.blocks import refuse_if_blocked
from service.core.content import (
    COMMENT_SCENE,
    QUEUE_COMMENT_CHECK,
    judge,
    require_allowed,
)
from service.core.media import claim_images, hold_images, release_images
from service.core.revocation import hold_account
from service.core.rows import invalid
from service.errors import Problem
from service.feed import limits, mentions
from service.feed import models as m
from service.feed import page_queries as pages
from service.feed import queries as q
from service.feed.locks import lock_comment
from service.feed.reading import json_response
from service.feed.visibility import comment_became_visible, uncount_comment
from service.feed.writing import audit_removal, label_of, may_write, require_open
from service.settings import Settings
from service.wechat.client import WeChatClient


async def _thread_of(
    conn: asyncpg.Connection, post: Any, parent_id: int | None, user_id: int
) -> tuple[int | None, int | None]:
    """(thread, answered comment) for a reply to ``parent_id``: a reply to a reply joins its thread. Refused
    (`blocked`) when the post's author or the answered comment's author blocked the writer."""
    post_id = post["id"]
    if parent_id is None:
        await refuse_if_blocked(conn, user_id, [post["author_id"]], "reply to")
        return None, None
    parent = await conn.fetchrow(q.COMMENT, parent_id)
    if (
        parent is None
        or parent["post_id"] != post_id
        or parent["deleted_at"] is not None
        or parent["status"] != "visible"
    ):
        raise Problem("not_found", "no such comment on this post")
    await refuse_if_blocked(conn, user_id, [post["author_id"], parent["author_id"]], "reply to")
    return parent["parent_id"] or parent["id"], parent["id"]


async def create_comment(
    pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, post_id: int, user_id: int, data: m.CommentCreate
) -> Response[bytes]:
    text = data.text.strip()
    if not text:
        raise invalid("text", "must not be blank")
    parent_id = int(data.parent_id) if data.parent_id is not None else None
    image_id = int(data.image_id) if data.image_id is not None else None
    async with pool.acquire() as conn:
        post = await conn.fetchrow(q.POST, post_id)
        require_open(post)
        community_id = post["community_id"]
        openid = await may_write(conn, settings, community_id, user_id, "comment", text)
        await limits.check_flood(conn, settings, user_id, kind="comment")
        await _thread_of(conn, post, parent_id, user_id)
    verdict = require_allowed(await judge(wechat, openid, COMMENT_SCENE, text), "comment")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await hold_account(conn, user_id)  # erased while WeChat judged the text: nothing is stored
            await conn.execute(q.LOCK_MEMBERSHIP, community_id, user_id)
            await may_write(conn, settings, community_id, user_id, "comment", text)
            post = await conn.fetchrow(q.POST, post_id)
            require_open(post)
            thread_id, reply_to_id = await _thread_of(conn, post, parent_id, user_id)
            mentioned = await mentions.checked(conn, settings, community_id, user_id, data.mentions)
            image = await claim_images(conn, user_id, [image_id], "imageId") if image_id else "approved"
            shown = verdict.outcome == "pass" and image == "approved"  # a photo being checked holds it back
            comment_id = await conn.fetchval(
                q.INSERT_COMMENT,
                community_id,
                post_id,
                thread_id,
                reply_to_id,
                user_id,
                text,
                "visible" if shown else "pending" if verdict.outcome == "pass" else verdict.status,
                label_of(verdict),
                image_id,
                mentioned,
            )
            if verdict.outcome == "unchecked":
                await conn.execute(QUEUE_COMMENT_CHECK, comment_id)
            elif shown:
                await comment_became_visible(conn, await conn.fetchrow(q.COMMENT, comment_id))
        return json_response(await conn.fetchval(pages.COMMENT_ITEM, comment_id), 201)


async def delete_comment(conn: asyncpg.Connection, comment_id: int, user_id: int) -> None:
    """Soft delete by the author or an admin (robot comments: admins); the counters follow."""
    async with conn.transaction():
        comment = await lock_comment(conn, comment_id)
        if comment is None:
            raise Problem("not_found", "no such comment")
        if comment["author_id"] != user_id:
            await require_admin(conn, comment["community_id"], user_id)
        elif comment["deleted_at"] is None:  # as a post: a removed or departed author no longer acts there
            await require_member(conn, comment["community_id"], user_id)
        if comment["deleted_at"] is not None:
            return
        images = [comment["image_id"]] if comment["image_id"] else []
        await hold_images(conn, images)
        await conn.execute(q.DELETE_COMMENT, comment_id, user_id)
        await release_images(conn, images)
        await uncount_comment(conn, comment)
        details = {"commentId": str(comment_id), "postId": str(comment["post_id"])}
        await audit_removal(conn, comment, user_id, "comment.deleted", details)
