"""The inbox, written by every domain: what happened that concerns a member (a reply, likes, a decision on
their request or their report, a trial won), in the transaction of the event.

Never for the member's own action, nor from a member they blocked (service/core/blocks.py), nor to an erased
account, nor about a post or comment of a community they no longer belong to (a removed member loses access at
once); an item from a community the member muted is kept but does not count in the badge (muting takes the
community's earlier items out too; leaving marks them read). Likes are one item per post: each member's first like
raises it to the top, unread, with the count and the latest liker; an unlike or a like again changes only its count
(the post's likes), and the item goes when the likes are back to 0. The inbox domain
(service/inbox) reads, counts, marks and purges. A counted item is also a live event (service/core/live.py) with
the new unread count, sent when the transaction commits. The count the writer reads is only its own view: two items
committing at once each miss the other, so the hubs read the count again after the commit (`unread_of`, from
service/live) and send that; the writer's stands in when that read fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from service.core import live

# No correlated subquery (Citus plans none beside unnest): who muted the community, who blocked the actor and who
# already has the item are each read once for all the recipients.
_ROW = """
INSERT INTO inbox_items (user_id, community_id, kind, subject_type, subject_id, actor_id, data, count, muted)
SELECT r.id, $2, $3, $4, $5, $6, $7, $8,
       r.id = ANY(ARRAY(SELECT m.user_id FROM memberships m
                        WHERE m.community_id = $2 AND m.user_id = ANY($1::bigint[]) AND m.notifications_muted))
FROM unnest($1::bigint[]) AS r (id)
WHERE r.id IS DISTINCT FROM $6
  AND NOT r.id = ANY(ARRAY(SELECT b.blocker_id FROM member_blocks b
                           WHERE b.blocker_id = ANY($1::bigint[]) AND b.blocked_id = $6))
  -- $9, a reminder a job may repeat after a crash: at most one item of its kind about its subject per member
  AND NOT ($9 AND r.id = ANY(ARRAY(SELECT o.user_id FROM inbox_items o
                                   WHERE o.user_id = ANY($1::bigint[]) AND o.kind = $3 AND o.subject_id = $5)))
  -- an erased account is told nothing: nobody can sign in to read it, and an item would hold data about it
  AND NOT r.id = ANY(ARRAY(SELECT u.id FROM users u WHERE u.id = ANY($1::bigint[]) AND u.erased_at IS NOT NULL))
  -- $10, about what only the community's members may open: nobody else is told (the brand's team opens it, member
  -- or not, as the access check reads it: core/access.py)
  AND (NOT $10 OR r.id = ANY(ARRAY(SELECT m.user_id FROM memberships m WHERE m.community_id = $2
                                   AND m.user_id = ANY($1::bigint[]) AND m.status = 'active'))
               OR r.id = ANY(ARRAY(SELECT a.user_id FROM communities c JOIN brand_admins a ON a.brand_id = c.brand_id
                                   WHERE c.id = $2 AND a.user_id = ANY($1::bigint[]))))
"""
_RETURNING = "RETURNING user_id, id, muted"
_INSERT = _ROW + _RETURNING

# A new like moves the post's one item to the top (a fresh id: the inserted row's, drawn from the same sequence),
# unread. The inserted row's values, not nextval() or now(): Citus takes only immutable functions in DO UPDATE.
# `muted` too: the one item lives as long as the post, and the member may have muted or unmuted the community since.
_LIKES = (
    _ROW
    + """ON CONFLICT (user_id, subject_id) WHERE kind = 'likes' DO UPDATE
SET id = excluded.id, count = excluded.count, actor_id = excluded.actor_id, read_at = NULL,
    created_at = excluded.created_at, muted = excluded.muted
"""
    + _RETURNING
)

# The badge: unread items, muted communities left out.
UNREAD = "SELECT count(*) FROM inbox_items WHERE user_id = $1 AND read_at IS NULL AND NOT muted"
# The same for every member an item just reached, in one statement.
_UNREAD_OF = """
SELECT user_id, count(*) AS unread FROM inbox_items
WHERE user_id = ANY($1::bigint[]) AND read_at IS NULL AND NOT muted
GROUP BY user_id
"""

# A post's likes changed without a new like to tell (an unlike, a like again): its one item, if there is one, shows the
# likes now, where it is, read or not. By the author ($1), so Citus reads only their inbox's shard.
_RECOUNT_LIKES = """
UPDATE inbox_items SET count = $3 WHERE user_id = $1 AND kind = 'likes' AND subject_id = $2 AND count <> $3
"""
_WITHDRAW_LIKES = "DELETE FROM inbox_items WHERE user_id = $1 AND kind = 'likes' AND subject_id = $2"

# By their recipients ($1), so Citus reads only their inboxes' shards.
_WITHDRAW = """
DELETE FROM inbox_items WHERE user_id = ANY($1::bigint[]) AND kind = $2 AND subject_type = $3 AND subject_id = $4
"""


@dataclass(frozen=True)
class Item:
    """``kind`` says what happened; ``subject_type`` and ``subject_id`` what the client opens; ``user_id`` who
    gets it: one member, or many at once (everyone signed up to a meetup that changed)."""

    user_id: int | Sequence[int]
    kind: str
    subject_type: str
    subject_id: int
    community_id: int | None = None
    actor_id: int | None = None
    data: dict = field(default_factory=dict)
    count: int = 1  # likes: the post's likes now
    once: bool = False  # a reminder: never twice to the same member about the same subject
    members_only: bool = False  # about what only those standing in the community may open (a post, a comment)


async def deliver(conn: asyncpg.Connection, item: Item) -> None:
    """Write the item for its members in one statement, leaving out the actor (never for my own action),
    whoever blocked the actor and, for a `members_only` item, whoever does not stand in its community (an active
    member, or on the brand's team)."""
    users = [item.user_id] if isinstance(item.user_id, int) else list(item.user_id)
    if not users:
        return
    args = (
        users,
        item.community_id,
        item.kind,
        item.subject_type,
        item.subject_id,
        item.actor_id,
        item.data,
        item.count,
        item.once,
        item.members_only,
    )
    told = [row for row in await conn.fetch(_LIKES if item.kind == "likes" else _INSERT, *args) if not row["muted"]]
    if not told:
        return
    unread = await unread_of(conn, [row["user_id"] for row in told])
    for row in told:
        event = {
            "type": "notification",
            "notificationId": str(row["id"]),
            "kind": item.kind,
            "communityId": None if item.community_id is None else str(item.community_id),
            "unreadCount": unread.get(row["user_id"], 0),
        }
        await live.publish(conn, [live.user(row["user_id"])], event)


async def unread_of(conn: asyncpg.Connection, user_ids: Sequence[int]) -> dict[int, int]:
    """The badge of each of these members (0: absent)."""
    return dict(await conn.fetch(_UNREAD_OF, list(user_ids)))


async def withdraw(
    conn: asyncpg.Connection, users: Sequence[int], kind: str, subject_type: str, subject_id: int
) -> None:
    """Delete the items of ``kind`` about one subject from these members' inboxes (what may no longer be told,
    e.g. introductions naming an erased member)."""
    if users:
        await conn.execute(_WITHDRAW, list(users), kind, subject_type, subject_id)


async def likes_recounted(conn: asyncpg.Connection, author_id: int, post_id: int, count: int) -> None:
    """The post's likes are now ``count`` and nobody is to be told (an unlike, a member's like again): the author's
    item follows, without rising or counting in the badge again; withdrawn at 0 (nobody likes the post any more)."""
    if count > 0:
        await conn.execute(_RECOUNT_LIKES, author_id, post_id, count)
    else:
        await conn.execute(_WITHDRAW_LIKES, author_id, post_id)


# A community's items follow the member's standing there. Muting or unmuting it takes what it already sent out of
# the badge or back in; leaving it marks what was unread read (nothing of it can be opened any more, and the member
# may no longer mute it). By the member ($1), so Citus reads only their inbox's shard.
_MUTE_COMMUNITY = "UPDATE inbox_items SET muted = $3 WHERE user_id = $1 AND community_id = $2 AND muted <> $3"
_READ_COMMUNITY = """
UPDATE inbox_items SET read_at = now() WHERE user_id = $1 AND community_id = $2 AND read_at IS NULL
"""


async def community_muted(conn: asyncpg.Connection, user_id: int, community_id: int, muted: bool) -> None:
    """The member muted (or unmuted) the community: its items leave (or rejoin) their badge, old ones too."""
    await conn.execute(_MUTE_COMMUNITY, user_id, community_id, muted)


async def community_left(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """The member left or was removed: the community's unread items stop counting in their badge."""
    await conn.execute(_READ_COMMUNITY, user_id, community_id)
