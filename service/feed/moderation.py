"""Moderation decisions on posts and comments (the core's `moderated` hook, in the decision's transaction).

`hide` takes visible content out of every reader's sight but its author's (kept `pending`, as for WeChat's
`review`); `release` shows it (again): its held photos are approved (what else waited for them is shown too), and
a first appearance is counted and answered by the robots as any other, but what was refused meanwhile stays
refused; `remove` refuses it for good (`rejected`). Counters of a hidden comment stay as they were: it was seen,
and a release must not count it twice; a removed one leaves them.
"""

from __future__ import annotations

import asyncpg

from service.core.hooks import MediaDecided, Moderated, media_decided
from service.core.media import approve_held_images, lock_held_images
from service.feed import digests
from service.feed import queries as q
from service.feed.locks import lock_comment, lock_post
from service.feed.visibility import comment_became_visible, post_became_visible, uncount_comment

_STATUS = {"hide": "pending", "release": "visible", "remove": "rejected"}


async def apply_moderation(conn: asyncpg.Connection, event: Moderated) -> None:
    is_post = event.kind == "post"
    if event.action == "release":  # its held photos before it, as every release takes them
        await lock_held_images(conn, await conn.fetchval(q.IMAGE_IDS[event.kind], event.target_id) or [])
    row = await (lock_post(conn, event.target_id) if is_post else lock_comment(conn, event.target_id))
    if row is None or row["deleted_at"] is not None:
        return
    status = _STATUS[event.action]
    if event.action == "hide" and row["status"] != "visible":
        return  # pending or refused already: nothing more to hide
    if event.action == "release" and row["status"] == "rejected":
        # Refused since it was reported (WeChat's recheck of an edit, a photo's check, a removal a report raced):
        # dismissing the reports does not overturn that refusal.
        return
    if event.action == "remove" and not is_post:
        await uncount_comment(conn, row)  # gone for good: no longer in its post's comment count
    await conn.execute(q.SET_POST_STATUS if is_post else q.SET_COMMENT_STATUS, row["id"], status, row["check_label"])
    if is_post:  # its author may not edit a hidden post back into sight (posts.py); comments are not edited
        await conn.execute(q.SET_POST_HIDDEN, row["id"], event.action == "hide")
        await digests.redraw(conn, row["community_id"], [row["id"]])
    if event.action == "hide":
        return
    # A person decided: WeChat's re-check of the text no longer matters.
    await conn.execute(q.DROP_POST_CHECK if is_post else q.DROP_COMMENT_CHECK, row["id"])
    if event.action == "release" and row["status"] != "visible":
        ids = row["image_ids"] if is_post else [row["image_id"]] if row["image_id"] else []
        approved = await approve_held_images(conn, ids)
        if is_post:
            await post_became_visible(conn, row)
        else:
            await comment_became_visible(conn, row)
        # The photos are approved, not this post alone: what else waits for them (the same photo posted again
        # since the queue was read, which the queue no longer takes) is shown as on WeChat's `pass`.
        for sha256 in approved:
            await media_decided(conn, MediaDecided(sha256, "approved"))
