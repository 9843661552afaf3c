"""The communities domain's part of account erasure and export (core/privacy.py, docs/privacy.md).

Memberships end as a quiet departure: no audit entry, no greeting, no metric; the member count follows. Join
requests go (their messages are the member's words). Every welcome post that greeted the member by name (each
join's, whatever they were called then) keeps its thread but names the erased member no more. Invites, referrals,
audit entries and paid entries stay: they name the tombstone's id only.
"""

from __future__ import annotations

import asyncpg

from service.core.privacy import (
    ERASED_NICKNAME,
    Erasure,
    Privacy,
)

_END_MEMBERSHIPS = """
WITH ended AS (
    UPDATE memberships SET status = 'left', role = 'member', left_at = now()
    WHERE user_id = $1 AND status = 'active'
    RETURNING community_id
)
UPDATE communities c SET member_count = c.member_count - 1 FROM ended WHERE c.id = ended.community_id
"""

# Every welcome post that greeted the member (an earlier join's too, and one naming a former nickname): each is
# written again from its greeting, split where the nickname went, so nothing else in it changes. One by one, by
# community and id: Citus takes no stable function (array_to_string) over a column in a multi-shard UPDATE.
_WELCOMES = "SELECT community_id, id, greeting FROM posts WHERE greeted_id = $1 AND greeting IS NOT NULL"
_REWRITE_WELCOME = "UPDATE posts SET text = $3 WHERE community_id = $1 AND id = $2"

_DELETE_JOIN_REQUESTS = "DELETE FROM join_requests WHERE user_id = $1"

_MEMBERSHIPS = """
SELECT m.community_id::text AS community_id, c.name AS community_name, m.role, m.status, m.via, m.joined_at,
       m.left_at
FROM memberships m JOIN communities c ON c.id = m.community_id
WHERE m.user_id = $1 ORDER BY m.joined_at
"""

_JOIN_REQUESTS = """
SELECT id::text AS id, community_id::text AS community_id, message, status, reason, created_at
FROM join_requests r WHERE user_id = $1 ORDER BY r.id  -- the number (a bare `id` is the text column above)
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    for post in await conn.fetch(_WELCOMES, erasure.user_id):
        await conn.execute(_REWRITE_WELCOME, post["community_id"], post["id"], ERASED_NICKNAME.join(post["greeting"]))
    await conn.execute(_END_MEMBERSHIPS, erasure.user_id)
    await conn.execute(_DELETE_JOIN_REQUESTS, erasure.user_id)


PRIVACY = Privacy(
    erase=erase,
    exports={"memberships": _MEMBERSHIPS, "join_requests": _JOIN_REQUESTS},
    erases=("memberships", "join_requests"),
    # An owner cannot be erased (owner_must_transfer); payouts are money.
    keeps=("communities", "invites", "referrals", "community_audit_log", "community_entries", "payouts"),
)
