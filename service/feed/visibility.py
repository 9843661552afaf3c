"""When a member's post or comment becomes visible (at once, or later by the recheck job): in the same
transaction, the member's activity is recorded once, the counters kept on the rows change, the notifications
are queued and the hook `published` lets the robots answer.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.core.blocks import blockers_among
from service.core.hooks import MediaDecided, Published, published
from service.core.inbox import Item, deliver
from service.core.interactions import record
from service.core.media import images_state
from service.feed import queries as q
from service.feed.mentions import tell_mentioned
from service.jobs import enqueue

NOTIFY_KIND = "feed.notify"


async def post_became_visible(conn: asyncpg.Connection, post: Any) -> None:
    """In the transaction that made a member's post visible: the newly mentioned are told, its activity (once) and
    the robot's answer."""
    if post["author_id"] is None:
        return
    await tell_mentioned(conn, "post", post["id"])
    if not await conn.fetchval(q.MARK_POST_COUNTED, post["id"]):
        return
    await record(conn, post["community_id"], post["author_id"], "post", post_id=post["id"])
    await published(conn, Published(post["community_id"], post["id"], post["author_id"], post["text"]))


async def comment_became_visible(conn: asyncpg.Connection, comment: Any) -> None:
    """In the transaction that made a member's comment visible: counters, activity, notifications, robot. Not for
    one whose post was deleted or removed (moderation, WeChat) while it was held (WeChat's recheck, its photo's
    check, a moderator's approval): no comment can be written there, so none counts, is recorded or told about."""
    if comment["author_id"] is None:
        return
    if not await conn.fetchval(q.POST_STANDS, comment["community_id"], comment["post_id"]):
        return
    # Its thread deleted or removed meanwhile: the reply is seen nowhere, like a comment of a deleted post.
    if comment["parent_id"] is not None and not await conn.fetchval(
        q.THREAD_STANDS, comment["community_id"], comment["parent_id"]
    ):
        return
    if not await conn.fetchval(q.MARK_COMMENT_COUNTED, comment["id"]):
        return
    await conn.execute(q.ADD_COMMENT_COUNT, comment["post_id"], 1)
    if comment["parent_id"] is not None:
        await conn.execute(q.ADD_REPLY_COUNT, comment["parent_id"], 1)
    post_id, comment_id = comment["post_id"], comment["id"]
    await record(conn, comment["community_id"], comment["author_id"], "comment", post_id=post_id, comment_id=comment_id)
    told = await _queue_notifications(conn, comment)
    await tell_mentioned(conn, "comment", comment["id"], told)
    event = Published(
        comment["community_id"],
        comment["post_id"],
        comment["author_id"],
        comment["text"],
        comment_id=comment["id"],
        thread_id=comment["parent_id"] or comment["id"],
    )
    await published(conn, event)


async def uncount_comment(conn: asyncpg.Connection, comment: Any) -> None:
    """A comment leaves the counters it is in (deleted, or removed by moderation): once, for one that was counted
    (visible once; a hidden one stays counted) and not removed already. A thread takes its replies with it (no one
    sees them any more); a reply of a thread gone already left with it."""
    if comment["status"] == "rejected":
        return
    community_id, post_id, thread_id = comment["community_id"], comment["post_id"], comment["parent_id"]
    if thread_id is None:
        gone = (comment["counted_at"] is not None) + await conn.fetchval(
            q.THREAD_REPLIES_COUNTED, community_id, comment["id"]
        )
        if gone:
            await conn.execute(q.ADD_COMMENT_COUNT, post_id, -gone)
    elif comment["counted_at"] is not None and await conn.fetchval(q.THREAD_STANDS, community_id, thread_id):
        await conn.execute(q.ADD_COMMENT_COUNT, post_id, -1)
        await conn.execute(q.ADD_REPLY_COUNT, thread_id, -1)


async def _queue_notifications(conn: asyncpg.Connection, comment: Any) -> set[int]:
    """The post's author hears of a comment, the answered comment's author of a reply (once each, never
    about their own words nor from a member they blocked). Recorded either way; a member who muted the community
    is recorded as muted. Returns who was told."""
    targets = await conn.fetchrow(q.NOTIFY_TARGETS, comment["post_id"], comment["reply_to_id"], comment["community_id"])
    actor = comment["author_id"]
    recipients: dict[int, str] = {}
    if targets["reply_to_author"] is not None and targets["reply_to_author"] != actor:
        recipients[targets["reply_to_author"]] = "reply"
    if targets["post_author"] is not None and targets["post_author"] != actor:
        recipients.setdefault(targets["post_author"], "comment")
    for blocker in await blockers_among(conn, actor, recipients):
        del recipients[blocker]
    for user_id, kind in recipients.items():
        data = {"postId": str(comment["post_id"])}
        item = Item(user_id, kind, "comment", comment["id"], comment["community_id"], actor, data, members_only=True)
        await deliver(conn, item)
        row = await conn.fetchrow(
            q.INSERT_NOTIFICATION, user_id, comment["community_id"], kind, comment["post_id"], comment["id"], actor
        )
        if row is not None and row["status"] == "queued":
            await enqueue(conn, NOTIFY_KIND, {"notification_id": row["id"]}, max_attempts=6)
    return set(recipients)


async def images_decided(conn: asyncpg.Connection, decided: MediaDecided) -> None:
    """An image's check ended (hook, in the verdict's transaction): posts and comments waiting for it are shown
    once every image passed and their text did; one refused image refuses them, with that image's label. An image
    held for review keeps them held."""
    if decided.status == "review":
        return
    uploads = await conn.fetchval(q.MEDIA_OF_OBJECT, decided.sha256)
    for waiting in await conn.fetch(q.POSTS_WAITING_FOR, uploads):
        post = await conn.fetchrow(q.LOCK_POST_WAITING, waiting["community_id"], waiting["id"], uploads)
        if post is None:  # changed before the lock
            continue
        state, label = await images_state(conn, post["image_ids"])
        if state == "rejected":
            await conn.execute(q.SET_POST_STATUS, post["id"], "rejected", label)
            await conn.execute(q.DROP_POST_CHECK, post["id"])
        elif state == "approved" and not post["text_unchecked"] and post["check_label"] is None:
            await conn.execute(q.SET_POST_STATUS, post["id"], "visible", None)
            await post_became_visible(conn, post)
    for waiting in await conn.fetch(q.COMMENTS_WAITING_FOR, uploads):
        comment = await conn.fetchrow(q.LOCK_COMMENT_WAITING, waiting["community_id"], waiting["id"], uploads)
        if comment is None:
            continue
        if decided.status == "rejected":
            await conn.execute(q.SET_COMMENT_STATUS, comment["id"], "rejected", decided.label)
            await conn.execute(q.DROP_COMMENT_CHECK, comment["id"])
        elif not comment["text_unchecked"] and comment["check_label"] is None:
            await conn.execute(q.SET_COMMENT_STATUS, comment["id"], "visible", None)
            await comment_became_visible(conn, await conn.fetchrow(q.COMMENT, comment["id"]))
