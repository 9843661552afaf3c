"""The rules of the feed: who may read and write what, and in which transaction (docs/feed.md).

- Reading: only active members read a community's posts. Pages are built by one SQL statement that also
  checks the caller's standing, and go out as the bytes PostgreSQL produced.
- Writing a post or comment: standing and newcomer limits are checked, then WeChat checks the text with no
  database connection held, then one transaction re-checks standing and limits under the member's row lock
  and stores the text. When a text becomes visible (at once, or later by the recheck job) the same
  transaction records the member's activity once, updates the counters kept on the rows, queues the
  notifications and lets the keyword robot answer.
- Counters (likes, comments, shares) change in the transaction that changes what they count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.core.access import check_can_post, require_admin, require_member
from service.core.content import (
    COMMENT_SCENE,
    POST_SCENE,
    QUEUE_COMMENT_CHECK,
    QUEUE_POST_CHECK,
    Verdict,
    judge,
    require_allowed,
)
from service.core.hooks import Published, published
from service.core.interactions import record
from service.core.paging import decode_cursor, encode_cursor
from service.errors import FieldError, Problem
from service.feed import limits
from service.feed import models as m
from service.feed import queries as q
from service.feed.cache import PageCache, SharedPage
from service.jobs import enqueue
from service.settings import Settings
from service.wechat.client import WeChatClient

EDIT_WINDOW_CLOSED = "edit_window_closed"
NOTIFY_KIND = "feed.notify"


# --- small helpers -------------------------------------------------------------------------------------


def _json(body: bytes, status: int = 200) -> Response[bytes]:
    return Response(content=body, status_code=status, media_type="application/json")


def _page(row: Any, limit: int, cursor_of, items: bytes | None = None) -> Response[bytes]:
    more = row["fetched"] > limit
    next_cursor = encode_cursor(*cursor_of(row)) if more else None
    items = row["items"] if items is None else items
    return _json(b'{"items":' + items + b',"nextCursor":' + msgspec.json.encode(next_cursor) + b"}")


def _invalid(field: str, message: str) -> Problem:
    return Problem("validation_failed", message, errors=[FieldError(field=field, message=message, source="body")])


def _cursor(cursor: str | None, tag: str, key_type: type) -> tuple[Any, Any]:
    """A page's cursor is tagged with its order, so one order's cursor is never read as another's."""
    after = decode_cursor(cursor, str, key_type, int)
    if after is None:
        return None, None
    if after[0] != tag:
        raise Problem(
            "validation_failed",
            "invalid cursor",
            errors=[FieldError(field="cursor", message="a cursor of another list or order", source="query")],
        )
    return after[1], after[2]


def _require_standing(row: Any) -> None:
    if not row["found"]:
        raise Problem("not_found", "no such community")
    if row["standing"] != "active":
        raise Problem("not_member")


def _require_open(post: Any) -> None:
    """The post exists, is not deleted and is visible: others may react to it."""
    if post is None or post["deleted_at"] is not None or post["status"] != "visible":
        raise Problem("not_found", "no such post")


def _link(link: m.Link | None) -> tuple[str | None, int | None]:
    return (None, None) if link is None else (link.kind, int(link.id))


def _label(verdict: Verdict) -> int | None:
    return None if verdict.outcome == "pass" else verdict.label


# --- reading -------------------------------------------------------------------------------------------


# Per order: the reader's page, the shared page (cache.py), the cursor's type and the last item's sort key.
_ORDERS = {
    "latest": (q.FEED_LATEST, q.SHARED_LATEST, datetime, lambda r: ("latest", r["last_created_at"], r["last_id"])),
    "hot": (q.FEED_HOT, q.SHARED_HOT, float, lambda r: ("hot", r["last_hot_rank"], r["last_id"])),
}
# A write whose transaction began before a shared page was read may commit after it: its author's next
# reads bypass the cache this long.
IN_FLIGHT_SLACK = timedelta(seconds=10)


async def community_feed(
    pool: asyncpg.Pool,
    cache: PageCache | None,
    settings: Settings,
    community_id: int,
    user_id: int,
    order: m.FeedOrder,
    limit: int,
    cursor: str | None,
) -> Response[bytes]:
    own_query, shared_query, key_type, cursor_of = _ORDERS[order]
    after = _cursor(cursor, order, key_type)
    if cache is not None:

        async def load() -> SharedPage:
            row = await pool.fetchrow(shared_query, community_id, *after, limit)
            return SharedPage(read_at=row["read_at"], post_ids=row["post_ids"], items=row["items"], row=row)

        shared = await cache.page((community_id, order, *after, limit), load)
        reader = await pool.fetchrow(
            q.READER_OF_PAGE,
            community_id,
            user_id,
            shared.post_ids,
            shared.read_at - IN_FLIGHT_SLACK,
            float(settings.post_edit_window),
        )
        _require_standing(reader)
        if not reader["own_news"]:
            return _page(shared.row, limit, cursor_of, shared.items_for(set(reader["liked"])))
    row = await pool.fetchrow(own_query, community_id, user_id, *after, limit)
    _require_standing(row)
    return _page(row, limit, cursor_of)


async def essence(
    pool: asyncpg.Pool, community_id: int, user_id: int, limit: int, cursor: str | None
) -> Response[bytes]:
    row = await pool.fetchrow(q.ESSENCE, community_id, user_id, *_cursor(cursor, "essence", datetime), limit)
    _require_standing(row)
    return _page(row, limit, lambda r: ("essence", r["last_essence_at"], r["last_id"]))


async def my_feed(pool: asyncpg.Pool, user_id: int, limit: int, cursor: str | None) -> Response[bytes]:
    row = await pool.fetchrow(q.MY_FEED, user_id, *_cursor(cursor, "mine", datetime), limit)
    return _page(row, limit, lambda r: ("mine", r["last_created_at"], r["last_id"]))


async def _post_item(conn: asyncpg.Connection | asyncpg.Pool, post_id: int, user_id: int) -> bytes:
    """The post as ``user_id`` sees it; not_found unless they may see it."""
    row = await conn.fetchrow(q.POST_ITEM, post_id, user_id)
    if row is None or row["deleted"]:
        raise Problem("not_found", "no such post")
    if row["standing"] != "active":
        raise Problem("not_member")
    if row["status"] != "visible" and row["author_id"] != user_id:
        raise Problem("not_found", "no such post")
    return row["item"]


async def get_post(pool: asyncpg.Pool, post_id: int, user_id: int) -> Response[bytes]:
    return _json(await _post_item(pool, post_id, user_id))


# --- becoming visible ----------------------------------------------------------------------------------


async def post_became_visible(conn: asyncpg.Connection, post: Any) -> None:
    """In the transaction that made a member's post visible: its activity (once) and the robot's answer."""
    if post["author_id"] is None or not await conn.fetchval(q.MARK_POST_COUNTED, post["id"]):
        return
    await record(conn, post["community_id"], post["author_id"], "post", post_id=post["id"])
    await published(conn, Published(post["community_id"], post["id"], post["author_id"], post["text"]))


async def comment_became_visible(conn: asyncpg.Connection, comment: Any) -> None:
    """In the transaction that made a member's comment visible: counters, activity, notifications, robot."""
    if comment["author_id"] is None or not await conn.fetchval(q.MARK_COMMENT_COUNTED, comment["id"]):
        return
    await conn.execute(q.ADD_COMMENT_COUNT, comment["post_id"], 1)
    if comment["parent_id"] is not None:
        await conn.execute(q.ADD_REPLY_COUNT, comment["parent_id"], 1)
    await record(conn, comment["community_id"], comment["author_id"], "comment", post_id=comment["post_id"])
    await _queue_notifications(conn, comment)
    event = Published(
        comment["community_id"],
        comment["post_id"],
        comment["author_id"],
        comment["text"],
        comment_id=comment["id"],
        thread_id=comment["parent_id"] or comment["id"],
    )
    await published(conn, event)


async def _queue_notifications(conn: asyncpg.Connection, comment: Any) -> None:
    """The post's author hears of a comment, the answered comment's author of a reply (once each, never
    about their own words). Recorded either way; a member who muted the community is recorded as muted."""
    targets = await conn.fetchrow(q.NOTIFY_TARGETS, comment["post_id"], comment["reply_to_id"])
    actor = comment["author_id"]
    recipients: dict[int, str] = {}
    if targets["reply_to_author"] is not None and targets["reply_to_author"] != actor:
        recipients[targets["reply_to_author"]] = "reply"
    if targets["post_author"] is not None and targets["post_author"] != actor:
        recipients.setdefault(targets["post_author"], "comment")
    for user_id, kind in recipients.items():
        row = await conn.fetchrow(
            q.INSERT_NOTIFICATION, user_id, comment["community_id"], kind, comment["post_id"], comment["id"], actor
        )
        if row is not None and row["status"] == "queued":
            await enqueue(conn, NOTIFY_KIND, {"notification_id": row["id"]}, max_attempts=6)


# --- posts ---------------------------------------------------------------------------------------------


async def _writer(conn: asyncpg.Connection, settings: Settings, community_id: int, user_id: int, kind: str, text: str):
    """May this member write here now? Standing, mute, introduction, newcomer limits; their openid."""
    await check_can_post(conn, community_id, user_id)
    await limits.check_newcomer(conn, settings, community_id, user_id, kind=kind, text=text)
    return await conn.fetchval(q.USER_OPENID, user_id)


async def create_post(
    pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, community_id: int, user_id: int, data: m.PostCreate
) -> Response[bytes]:
    text = data.text.strip()
    if not text and not data.image_urls:
        raise _invalid("text", "a post needs text or at least one image")
    async with pool.acquire() as conn:
        openid = await _writer(conn, settings, community_id, user_id, "post", text)
        await limits.check_flood(conn, settings, user_id, kind="post")
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "post")
    link_kind, link_id = _link(data.link)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(q.LOCK_MEMBERSHIP, community_id, user_id)  # one writer per member at a time
            await _writer(conn, settings, community_id, user_id, "post", text)
            post = await conn.fetchrow(
                q.INSERT_POST,
                community_id,
                user_id,
                text,
                data.image_urls,
                link_kind,
                link_id,
                verdict.status,
                _label(verdict),
            )
            if verdict.outcome == "unchecked":
                await conn.execute(QUEUE_POST_CHECK, post["id"])
            elif verdict.outcome == "pass":
                await post_became_visible(conn, post)
        return _json(await _post_item(conn, post["id"], user_id), 201)


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
    images = post["image_urls"] if data.image_urls is UNSET else data.image_urls
    link_kind, link_id = (post["link_kind"], post["link_id"]) if data.link is UNSET else _link(data.link)
    if not text and not images:
        raise _invalid("text", "a post needs text or at least one image")
    if limits.count_links(text) > limits.count_links(post["text"]):
        async with pool.acquire() as conn:
            await limits.check_newcomer(
                conn, settings, post["community_id"], user_id, kind="post", text=text, count_posts=False
            )
    text_changed = text != post["text"]
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "post") if text_changed else None
    async with pool.acquire() as conn:
        async with conn.transaction():
            post = await conn.fetchrow(q.LOCK_POST, post_id)
            _check_editable(post, user_id, settings, asked_at)
            status, label = post["status"], None
            if verdict is not None:
                status, label = verdict.status, _label(verdict)
            await conn.execute(q.UPDATE_POST, post_id, text, images, link_kind, link_id, status, label)
            if verdict is not None:
                if verdict.outcome == "unchecked":
                    await conn.execute(QUEUE_POST_CHECK, post_id)
                else:
                    await conn.execute(q.DROP_POST_CHECK, post_id)
                if verdict.outcome == "pass":
                    await post_became_visible(conn, {**dict(post), "text": text})
        return _json(await _post_item(conn, post_id, user_id))


def _check_editable(post: Any, user_id: int, settings: Settings, asked_at: datetime) -> None:
    if post is None or post["deleted_at"] is not None:
        raise Problem("not_found", "no such post")
    if post["author_id"] != user_id:
        raise Problem("forbidden", "only the author edits a post")
    if asked_at > post["created_at"] + timedelta(seconds=settings.post_edit_window):
        raise Problem(EDIT_WINDOW_CLOSED, f"posts can be edited for {settings.post_edit_window // 60} minutes")


async def delete_post(conn: asyncpg.Connection, post_id: int, user_id: int) -> None:
    """Soft delete (kept for audit) by the author or an admin of the community; deleting twice is fine."""
    async with conn.transaction():
        post = await conn.fetchrow(q.LOCK_POST, post_id)
        if post is None:
            raise Problem("not_found", "no such post")
        if post["author_id"] != user_id:
            await require_admin(conn, post["community_id"], user_id)
        elif post["deleted_at"] is None:
            await require_member(conn, post["community_id"], user_id)
        if post["deleted_at"] is not None:
            return
        await conn.execute(q.DELETE_POST, post_id, user_id)
        await conn.execute(q.DROP_POST_CHECK, post_id)
        if post["author_id"] != user_id:
            details = {"postId": str(post_id), "robot": post["robot"]}
            await conn.execute(
                q.INSERT_AUDIT, post["community_id"], user_id, "post.deleted", post["author_id"], details
            )


# --- comments ------------------------------------------------------------------------------------------


async def _thread_of(conn: asyncpg.Connection, post_id: int, parent_id: int | None) -> tuple[int | None, int | None]:
    """(thread, answered comment) for a reply to ``parent_id``: a reply to a reply joins its thread."""
    if parent_id is None:
        return None, None
    parent = await conn.fetchrow(q.COMMENT, parent_id)
    if (
        parent is None
        or parent["post_id"] != post_id
        or parent["deleted_at"] is not None
        or parent["status"] != "visible"
    ):
        raise Problem("not_found", "no such comment on this post")
    return parent["parent_id"] or parent["id"], parent["id"]


async def create_comment(
    pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, post_id: int, user_id: int, data: m.CommentCreate
) -> Response[bytes]:
    text = data.text.strip()
    if not text:
        raise _invalid("text", "must not be blank")
    parent_id = int(data.parent_id) if data.parent_id is not None else None
    async with pool.acquire() as conn:
        post = await conn.fetchrow(q.POST, post_id)
        _require_open(post)
        community_id = post["community_id"]
        openid = await _writer(conn, settings, community_id, user_id, "comment", text)
        await limits.check_flood(conn, settings, user_id, kind="comment")
        await _thread_of(conn, post_id, parent_id)
    verdict = require_allowed(await judge(wechat, openid, COMMENT_SCENE, text), "comment")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(q.LOCK_MEMBERSHIP, community_id, user_id)
            await _writer(conn, settings, community_id, user_id, "comment", text)
            _require_open(await conn.fetchrow(q.POST, post_id))
            thread_id, reply_to_id = await _thread_of(conn, post_id, parent_id)
            comment_id = await conn.fetchval(
                q.INSERT_COMMENT,
                community_id,
                post_id,
                thread_id,
                reply_to_id,
                user_id,
                text,
                verdict.status,
                _label(verdict),
            )
            if verdict.outcome == "unchecked":
                await conn.execute(QUEUE_COMMENT_CHECK, comment_id)
            elif verdict.outcome == "pass":
                await comment_became_visible(conn, await conn.fetchrow(q.COMMENT, comment_id))
        return _json(await conn.fetchval(q.COMMENT_ITEM, comment_id), 201)


async def list_comments(
    pool: asyncpg.Pool, post_id: int, user_id: int, parent_id: int | None, limit: int, cursor: str | None
) -> Response[bytes]:
    """Threads of a post (each with its first replies), or with ``parent_id`` the replies of one thread."""
    async with pool.acquire() as conn:
        await _post_item(conn, post_id, user_id)  # the caller may see the post
        if parent_id is None:
            after = _cursor(cursor, "threads", datetime)
            row = await conn.fetchrow(q.COMMENT_THREADS, post_id, user_id, *after, limit)
            return _page(row, limit, lambda r: ("threads", r["last_created_at"], r["last_id"]))
        thread = await conn.fetchrow(q.COMMENT, parent_id)
        if thread is None or thread["post_id"] != post_id or thread["parent_id"] is not None:
            raise Problem("not_found", "no such thread on this post")
        after = _cursor(cursor, "replies", datetime)
        row = await conn.fetchrow(q.COMMENT_REPLIES, parent_id, user_id, *after, limit)
        return _page(row, limit, lambda r: ("replies", r["last_created_at"], r["last_id"]))


async def delete_comment(conn: asyncpg.Connection, comment_id: int, user_id: int) -> None:
    """Soft delete by the author or an admin (robot comments: admins); the counters follow."""
    async with conn.transaction():
        comment = await conn.fetchrow(q.LOCK_COMMENT, comment_id)
        if comment is None:
            raise Problem("not_found", "no such comment")
        if comment["author_id"] != user_id:
            await require_admin(conn, comment["community_id"], user_id)
        if comment["deleted_at"] is not None:
            return
        await conn.execute(q.DELETE_COMMENT, comment_id, user_id)
        if comment["counted_at"] is not None:
            await conn.execute(q.ADD_COMMENT_COUNT, comment["post_id"], -1)
            if comment["parent_id"] is not None:
                await conn.execute(q.ADD_REPLY_COUNT, comment["parent_id"], -1)
        if comment["author_id"] != user_id:
            details = {"commentId": str(comment_id), "postId": str(comment["post_id"]), "robot": comment["robot"]}
            await conn.execute(
                q.INSERT_AUDIT, comment["community_id"], user_id, "comment.deleted", comment["author_id"], details
            )


# --- likes, shares, essence ----------------------------------------------------------------------------


async def _open_post_of_member(conn: asyncpg.Connection, post_id: int, user_id: int, *, lock: bool = False) -> Any:
    post = await conn.fetchrow(q.LOCK_POST if lock else q.POST, post_id)
    _require_open(post)
    await require_member(conn, post["community_id"], user_id)
    return post


async def like(conn: asyncpg.Connection, post_id: int, user_id: int) -> m.LikeState:
    """Idempotent: liking a liked post changes nothing."""
    async with conn.transaction():
        post = await _open_post_of_member(conn, post_id, user_id)
        if await conn.fetchval(q.INSERT_LIKE, post_id, user_id, post["community_id"]):
            count = await conn.fetchval(q.ADD_LIKE_COUNT, post_id, 1)
            await record(conn, post["community_id"], user_id, "like", post_id=post_id)
        else:
            count = await conn.fetchval(q.LIKE_COUNT, post_id)
    return m.LikeState(post_id=str(post_id), liked=True, like_count=count)


async def unlike(conn: asyncpg.Connection, post_id: int, user_id: int) -> m.LikeState:
    """Idempotent: unliking a post one does not like changes nothing."""
    async with conn.transaction():
        await _open_post_of_member(conn, post_id, user_id)
        if await conn.fetchval(q.DELETE_LIKE, post_id, user_id):
            count = await conn.fetchval(q.ADD_LIKE_COUNT, post_id, -1)
        else:
            count = await conn.fetchval(q.LIKE_COUNT, post_id)
    return m.LikeState(post_id=str(post_id), liked=False, like_count=count)


async def share(conn: asyncpg.Connection, post_id: int, user_id: int, data: m.ShareCreate) -> m.Share:
    async with conn.transaction():
        post = await _open_post_of_member(conn, post_id, user_id)
        row = await conn.fetchrow(q.INSERT_SHARE, post_id, post["community_id"], user_id, data.target)
        count = await conn.fetchval(q.ADD_SHARE_COUNT, post_id)
        await record(conn, post["community_id"], user_id, "share", post_id=post_id)
    return m.Share(
        id=str(row["id"]), post_id=str(post_id), target=data.target, share_count=count, created_at=row["created_at"]
    )


async def set_essence(conn: asyncpg.Connection, post_id: int, user_id: int, on: bool) -> m.EssenceState:
    """Admins mark a visible post as essence (again: unchanged) or unmark it; both are audited."""
    async with conn.transaction():
        post = await conn.fetchrow(q.LOCK_POST, post_id)
        _require_open(post)
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
