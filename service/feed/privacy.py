"""The feed's part of account erasure and export (core/privacy.py, docs/privacy.md).

Posts and comments stay, so the threads others wrote in stay readable: their author shows as the tombstone
(已注销用户, no avatar) and their photos go (the media domain deletes the uploads and their files); weekly digests
listing their posts name the tombstone. Subscribe
messages waiting for the member go. Likes and shares stay as counts under the tombstone's id.
"""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy
from service.feed import digests

_UNPICTURE_POSTS = "UPDATE posts SET image_ids = '{}', image_urls = '{}' WHERE author_id = $1"
_UNPICTURE_COMMENTS = "UPDATE comments SET image_id = NULL WHERE author_id = $1 AND image_id IS NOT NULL"
_DELETE_NOTIFICATIONS = "DELETE FROM feed_notifications WHERE user_id = $1"
# Who was told of a mention: the member's own notices go; notices of their mentions stay (actor: the tombstone).
_DELETE_MENTION_NOTICES = "DELETE FROM mention_notices WHERE user_id = $1"
# The member's posts a weekly digest lists, by community: those digests name them and are written again.
_DIGESTED = """
SELECT p.community_id, array_agg(p.id) AS post_ids
FROM posts p JOIN feed_digests d ON d.community_id = p.community_id AND p.id = ANY (d.post_ids)
WHERE p.author_id = $1
GROUP BY p.community_id
"""

_POSTS = """
SELECT id::text AS id, community_id::text AS community_id, kind, text, image_urls, status, created_at, deleted_at
FROM posts p WHERE author_id = $1 ORDER BY p.id  -- the number (a bare `id` is the text column above)
"""

_COMMENTS = """
SELECT id::text AS id, post_id::text AS post_id, community_id::text AS community_id, parent_id::text AS parent_id,
       text, status, created_at, deleted_at
FROM comments c WHERE author_id = $1 ORDER BY c.id  -- the number (a bare `id` is the text column above)
"""

_LIKES = """
SELECT post_id::text AS post_id, community_id::text AS community_id, created_at
FROM post_likes WHERE user_id = $1 ORDER BY created_at
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_UNPICTURE_POSTS, erasure.user_id)
    await conn.execute(_UNPICTURE_COMMENTS, erasure.user_id)
    await conn.execute(_DELETE_NOTIFICATIONS, erasure.user_id)
    await conn.execute(_DELETE_MENTION_NOTICES, erasure.user_id)
    for digested in await conn.fetch(_DIGESTED, erasure.user_id):
        await digests.redraw(conn, digested["community_id"], digested["post_ids"], erased=erasure.user_id)


PRIVACY = Privacy(
    erase=erase,
    exports={"posts": _POSTS, "comments": _COMMENTS, "likes": _LIKES},
    erases=("posts", "comments", "feed_notifications", "mention_notices"),
    # pins: the admin who pinned, as a moderation record
    keeps=("post_likes", "post_likers", "post_shares", "post_pins"),
)
