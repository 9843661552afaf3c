"""Writing posts: create, edit within the edit window, delete (soft, audited when an admin does it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Response
from msgspec import UNSET

from service.core.access import check_can_post, require_admin, require_member
from service.core.content import (
    POST_SCENE,
    QUEUE_POST_CHECK,
    judge,
    require_allowed,
)
from service.core.media import claim_images, hold_images, images_state, release_images
from service.core.revocation import hold_account
from service.core.rows import invalid
from service.errors import Problem
from service.feed import digests, limits, mentions
from service.feed import models as m
from service.feed import queries as q
from service.feed.locks import lock_post
from service.feed.reading import json_response, post_item
from service.feed.visibility import post_became_visible
from service.feed.writing import audit_removal, label_of, may_write
from service.settings import Settings
from service.wechat.client import WeChatClient

EDIT_WINDOW_CLOSED = "edit_window_closed"
POST_NOT_EDITABLE = "post_not_editable"


def _link(link: m.Link | None) -> tuple[str | None, int | None]:
    return (None, None) if link is None else (link.kind, int(link.id))


async def _check_link(conn: asyncpg.Connection, community_id: int, link_kind: str | None, link_id: int | None) -> None:
    """A poll link names a poll of the post's community: another community's poll, or none, is refused."""
    if link_kind == "poll" and not await conn.fetchval(q.POLL_OF_COMMUNITY, link_id, community_id):
        raise invalid("link.id", "no poll of this community has this id")


async def create_post(
    pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, community_id: int, user_id: int, data: m.PostCreate
) -> Response[bytes]:
    text = data.text.strip()
    image_ids = [int(media_id) for media_id in data.image_ids]
    if not text and not image_ids:
        raise invalid("text", "a post needs text or at least one image")
    async with pool.acquire() as conn:
        openid = await may_write(conn, settings, community_id, user_id, "post", text)
        await limits.check_flood(conn, settings, user_id, kind="post")
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "post")
    link_kind, link_id = _link(data.link)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await hold_account(conn, user_id)  # erased while WeChat judged the text: nothing is stored
            await conn.execute(q.LOCK_MEMBERSHIP, community_id, user_id)  # one writer per member at a time
            await may_write(conn, settings, community_id, user_id, "post", text)
            mentioned = await mentions.checked(conn, settings, community_id, user_id, data.mentions)
            await _check_link(conn, community_id, link_kind, link_id)
            images = await claim_images(conn, user_id, image_ids) if image_ids else "approved"
            # Shown to others when the text passed and every image did; an image still being checked holds it.
            shown = verdict.outcome == "pass" and images == "approved"
            post = await conn.fetchrow(
                q.INSERT_POST,
                community_id,
                user_id,
                text,
                link_kind,
                link_id,
                "visible" if shown else "pending" if verdict.outcome == "pass" else verdict.status,
                label_of(verdict),
                image_ids,
                mentioned,
            )
            if verdict.outcome == "unchecked":
                await conn.execute(QUEUE_POST_CHECK, post["id"])
            elif shown:
                await post_became_visible(conn, post)
        return json_response(await post_item(conn, post["id"], user_id), 201)


async def update_post(
    pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, post_id: int, user_id: int, data: m.PostUpdate
) -> Response[bytes]:
    asked_at = datetime.now(UTC)
    async with pool.acquire() as conn:
        post = await conn.fetchrow(q.POST, post_id)
        _check_editable(post, user_id, settings, asked_at)
        await check_can_post(conn, post["community_id"], user_id)
        openid = await conn.fetchval(q.USER_OPENID, user_id)
    text = post["text"] if data.text is UNSET else data.text.strip()
    image_ids = post["image_ids"] if data.image_ids is UNSET else [int(media_id) for media_id in data.image_ids]
    link_kind, link_id = (post["link_kind"], post["link_id"]) if data.link is UNSET else _link(data.link)
    if not text and not image_ids and not post["image_urls"]:
        raise invalid("text", "a post needs text or at least one image")
    if limits.count_links(text) > limits.count_links(post["text"]):
        async with pool.acquire() as conn:
            await limits.check_newcomer(
                conn, settings, post["community_id"], user_id, kind="post", text=text, count_posts=False
            )
    # Other photos make it a new post to judge, as when it was created: its text is checked again with them.
    changed = text != post["text"] or image_ids != post["image_ids"]
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "post") if changed else None
    async with pool.acquire() as conn:
        async with conn.transaction():
            # Erased while WeChat judged the text: nothing is stored (her posts stay hers, unnamed, so the author
            # check below would not see it).
            await hold_account(conn, user_id)
            post = await lock_post(conn, post_id)
            _check_editable(post, user_id, settings, asked_at)
            await check_can_post(conn, post["community_id"], user_id)  # removed or muted while WeChat judged
            if data.link is not UNSET:
                await _check_link(conn, post["community_id"], link_kind, link_id)
            status, label = post["status"], post["check_label"]
            mentioned = post["mention_ids"]
            if data.mentions is not UNSET:
                mentioned = await mentions.checked(conn, settings, post["community_id"], user_id, data.mentions)
            if data.image_ids is UNSET:
                image_ids = post["image_ids"]
            elif image_ids != post["image_ids"]:
                await claim_images(conn, user_id, image_ids)
            if verdict is not None:
                status, label = verdict.status, label_of(verdict)
                if status == "visible" and (await images_state(conn, image_ids))[0] != "approved":
                    status = "pending"  # its photos are still being checked
            await conn.execute(q.UPDATE_POST, post_id, text, image_ids, link_kind, link_id, status, label, mentioned)
            await release_images(conn, [media_id for media_id in post["image_ids"] if media_id not in image_ids])
            if verdict is not None:
                if verdict.outcome == "unchecked":
                    await conn.execute(QUEUE_POST_CHECK, post_id)
                else:
                    await conn.execute(q.DROP_POST_CHECK, post_id)
            if status == "visible":  # shown for the first time, or still: the newly mentioned are told
                await post_became_visible(conn, {**dict(post), "text": text})
        return json_response(await post_item(conn, post_id, user_id))


def _check_editable(post: Any, user_id: int, settings: Settings, asked_at: datetime) -> None:
    if post is None or post["deleted_at"] is not None:
        raise Problem("not_found", "no such post")
    if post["author_id"] != user_id:
        raise Problem("forbidden", "only the author edits a post")
    if asked_at > post["created_at"] + timedelta(seconds=settings.post_edit_window):
        raise Problem(EDIT_WINDOW_CLOSED, f"posts can be edited for {settings.post_edit_window // 60} minutes")
    # What a person decides (moderation) an edit must not undo: a post removed or refused stays so, one held for
    # WeChat's review (its label) or hidden by reports waits for an admin; a new text's verdict would show it.
    if post["status"] == "rejected":
        raise Problem(POST_NOT_EDITABLE, "a removed or refused post cannot be edited")
    if post["status"] == "pending" and (post["check_label"] is not None or post["hidden_at"] is not None):
        raise Problem(POST_NOT_EDITABLE, "the post waits for an admin's review: it cannot be edited meanwhile")


async def delete_post(conn: asyncpg.Connection, post_id: int, user_id: int) -> None:
    """Soft delete (kept for audit) by the author or an admin of the community; deleting twice is fine."""
    async with conn.transaction():
        post = await lock_post(conn, post_id)
        if post is None:
            raise Problem("not_found", "no such post")
        if post["author_id"] != user_id:
            await require_admin(conn, post["community_id"], user_id)
        elif post["deleted_at"] is None:
            await require_member(conn, post["community_id"], user_id)
        if post["deleted_at"] is not None:
            return
        await hold_images(conn, post["image_ids"])
        await conn.execute(q.DELETE_POST, post_id, user_id)
        await digests.redraw(conn, post["community_id"], [post_id])
        await conn.execute(q.DROP_POST_CHECK, post_id)
        await release_images(conn, post["image_ids"])
        await audit_removal(conn, post, user_id, "post.deleted", {"postId": str(post_id)})
