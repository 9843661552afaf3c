"""Mentions in posts and comments: who may be mentioned, and telling them (the inbox, a subscribe message).

Only current members of the community, at most MAX_MENTIONS, never a member who blocked the author; duplicates
count once and the author's own id is dropped. A mentioned member is told once per post or comment when it
becomes visible (`mention_notices`): an edit that adds mentions tells only the newly mentioned, and a member
already told of the comment as its post's author or the answered comment's author is not told twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from service.core.blocks import refuse_if_blocked
from service.core.inbox import Item, deliver
from service.core.messaging import send_once, thing, wechat_of
from service.errors import FieldError, Problem
from service.jobs import JobContext, Registry, enqueue
from service.settings import Settings

JOBS = Registry()
MESSAGE_KIND = "feed.mention"

_MEMBERS_AMONG = """
SELECT user_id FROM memberships WHERE community_id = $1 AND status = 'active' AND user_id = ANY($2::bigint[])
"""

_WRITING = {
    "post": "SELECT community_id, author_id, mention_ids, id AS post_id FROM posts WHERE id = $1",
    "comment": "SELECT community_id, author_id, mention_ids, post_id FROM comments WHERE id = $1",
}

# The mentioned not told yet, still members, who have not blocked the author: claimed, and returned.
_CLAIM_NOTICES = """
INSERT INTO mention_notices (subject_type, subject_id, user_id, community_id, actor_id)
SELECT $1, $2, m.user_id, $3, $4 FROM memberships m
WHERE m.community_id = $3 AND m.status = 'active' AND m.user_id = ANY($5::bigint[])
  AND NOT EXISTS (SELECT FROM member_blocks b WHERE b.blocker_id = m.user_id AND b.blocked_id = $4)
ON CONFLICT DO NOTHING
RETURNING user_id
"""

# The community of a notice queued without it in its payload (before the payload named it).
_NOTICE_COMMUNITY = """
SELECT community_id FROM mention_notices WHERE subject_type = $1 AND subject_id = $2 AND user_id = $3
"""

# The subscribe message of one notice, claimed (sent at most once); nothing when the community is muted. $4 its
# community: Citus routes the claim and its reads to that community's shard.
_CLAIM_MESSAGE = """
WITH claimed AS (
    UPDATE mention_notices SET messaged_at = now()
    WHERE community_id = $4 AND subject_type = $1 AND subject_id = $2 AND user_id = $3 AND messaged_at IS NULL
    RETURNING community_id, user_id, actor_id
)
SELECT u.openid, actor.nickname AS actor, CASE WHEN $1 = 'post' THEN p.text ELSE c.text END AS text,
       CASE WHEN $1 = 'post' THEN p.id ELSE c.post_id END AS post_id
FROM claimed n
JOIN users u ON u.id = n.user_id
JOIN users actor ON actor.id = n.actor_id
JOIN memberships m ON m.community_id = $4 AND m.user_id = n.user_id AND m.status = 'active'
                     AND NOT m.notifications_muted
-- Nor when the mentioned member blocked the author since the notice was claimed.
LEFT JOIN member_blocks b ON b.blocker_id = n.user_id AND b.blocked_id = n.actor_id
-- The writing by its kind ($1) in the select list: a join made false by a parameter leaves Citus no shard for it.
-- A comment's post is the post it is on, and a reply's thread is read too: a comment is seen with both.
LEFT JOIN comments c ON c.community_id = $4 AND c.id = $2
LEFT JOIN posts p ON p.community_id = $4 AND p.id = CASE WHEN $1 = 'post' THEN $2 ELSE c.post_id END
LEFT JOIN comments t ON t.community_id = $4 AND t.id = c.parent_id
-- Still there when the job runs (it may run late): deleted, refused or hidden since, no message tells of it.
WHERE p.deleted_at IS NULL AND p.status = 'visible'
  AND CASE WHEN $1 = 'post' THEN true
           ELSE c.deleted_at IS NULL AND c.status = 'visible'
                AND (c.parent_id IS NULL OR t.deleted_at IS NULL AND t.status = 'visible') END
  AND b.blocker_id IS NULL
"""


async def checked(
    conn: asyncpg.Connection, settings: Settings, community_id: int, author_id: int, sent: Sequence[str]
) -> list[int]:
    """The mentions to store, in the author's order; refused with the reason otherwise."""
    wanted = [user_id for user_id in dict.fromkeys(int(sent_id) for sent_id in sent) if user_id != author_id]
    if len(wanted) > settings.max_mentions:
        raise Problem("too_many_mentions", f"at most {settings.max_mentions} members may be mentioned")
    if not wanted:
        return []
    members = {row["user_id"] for row in await conn.fetch(_MEMBERS_AMONG, community_id, wanted)}
    strangers = [user_id for user_id in wanted if user_id not in members]
    if strangers:
        message = f"user {strangers[0]} is not a member of this community"
        raise Problem(
            "mention_not_member", message, errors=[FieldError(field="mentions", message=message, source="body")]
        )
    await refuse_if_blocked(conn, author_id, wanted, "mention")
    return wanted


async def tell_mentioned(conn: asyncpg.Connection, kind: str, target_id: int, told: Collection[int] = ()) -> None:
    """In the transaction that made the post or comment visible (again): the newly mentioned are told."""
    writing = await conn.fetchrow(_WRITING[kind], target_id)
    if writing is None or writing["author_id"] is None or not writing["mention_ids"]:
        return
    author, community_id = writing["author_id"], writing["community_id"]
    mentioned = [user_id for user_id in writing["mention_ids"] if user_id not in told]
    for row in await conn.fetch(_CLAIM_NOTICES, kind, target_id, community_id, author, mentioned):
        data = {"postId": str(writing["post_id"])}
        await deliver(
            conn, Item(row["user_id"], "mention", kind, target_id, community_id, author, data, members_only=True)
        )
        payload = {"kind": kind, "id": target_id, "user_id": row["user_id"], "community_id": community_id}
        await enqueue(conn, MESSAGE_KIND, payload, max_attempts=3)


@JOBS.job(MESSAGE_KIND)
async def message(ctx: JobContext, payload: dict) -> None:
    """The mentioned member's subscribe message (if they consented: 43101 is a result, never retried)."""
    notice = (payload["kind"], int(payload["id"]), int(payload["user_id"]))
    async with ctx.pool.acquire() as conn:
        community_id = payload.get("community_id") or await conn.fetchval(_NOTICE_COMMUNITY, *notice)
        row = None if community_id is None else await conn.fetchrow(_CLAIM_MESSAGE, *notice, int(community_id))
    if row is None or row["openid"] is None:
        return  # sent already (a retried job), the community muted or left, the writing gone, the author blocked
    settings = ctx.settings
    when = datetime.now(UTC).astimezone(ZoneInfo(settings.metrics_timezone)).strftime("%Y-%m-%d %H:%M")
    excerpt = " ".join(row["text"].split()) or "图片"
    data = {"thing1": thing(row["actor"] or "成员"), "thing2": thing(excerpt), "time3": when}
    page = f"{settings.notify_page}?postId={row['post_id']}"
    await send_once(wechat_of(ctx), row["openid"], settings.mention_template_id, data, page=page)
