"""The SQL of the feed: $n parameters only.

Read paths build the JSON of a page in PostgreSQL (one statement: the caller's standing, the page, authors,
counts from the post rows, liked-by-me, first comments) and hand it back as bytes, untouched by Python.
The fragments below are constant SQL text assembled at import time; no value is ever formatted into SQL.
"""

from __future__ import annotations

from service.feed.models import FIRST_COMMENTS


def _time(column: str) -> str:
    """RFC 3339 UTC with microseconds, whatever the session's time zone."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _author(user: str, robot: str, row: str) -> str:
    return f"""CASE WHEN {row}.author_id IS NULL
            THEN json_build_object('id', NULL, 'nickname', coalesce({robot}.nickname, {row}.robot),
                                   'avatarUrl', coalesce({robot}.avatar_url, ''))
            ELSE json_build_object('id', {row}.author_id::text, 'nickname', {user}.nickname,
                                   'avatarUrl', {user}.avatar_url) END"""


def _comment_json(row: str, user: str, robot: str, extra: str = "") -> str:
    return f"""json_build_object(
        'id', {row}.id::text, 'postId', {row}.post_id::text, 'parentId', {row}.parent_id::text,
        'replyToId', {row}.reply_to_id::text, 'author', {_author(user, robot, row)}, 'robot', {row}.robot,
        'text', {row}.text, 'status', {row}.status, 'replyCount', {row}.reply_count,
        'createdAt', {_time(f"{row}.created_at")}{extra})"""


def _item_json(me: str) -> str:
    """One feed item of post `p` (authors `u`/`r` joined, first comments `fc` joined) as seen by user `me`.
    `likedByMe` comes first, so a cached item can be made a reader's own by its first bytes (cache.py)."""
    return f"""json_build_object(
        'likedByMe', EXISTS (SELECT FROM post_likes l WHERE l.post_id = p.id AND l.user_id = {me}),
        'id', p.id::text, 'communityId', p.community_id::text, 'kind', p.kind,
        'author', {_author("u", "r", "p")}, 'robot', p.robot, 'text', p.text, 'imageUrls', p.image_urls,
        'link', CASE WHEN p.link_kind IS NULL THEN NULL
                     ELSE json_build_object('kind', p.link_kind, 'id', p.link_id::text) END,
        'status', p.status, 'likeCount', p.like_count, 'commentCount', p.comment_count,
        'shareCount', p.share_count, 'viewCount', p.view_count,
        'essence', p.essence_at IS NOT NULL, 'essenceAt', {_time("p.essence_at")},
        'createdAt', {_time("p.created_at")}, 'editedAt', {_time("p.edited_at")},
        'firstComments', coalesce(fc.comments, '[]'::json))"""


# Authors and the first comments of each post `p` of a page.
_ITEM_JOINS = f"""
LEFT JOIN users u ON u.id = p.author_id
LEFT JOIN robots r ON r.name = p.robot
LEFT JOIN LATERAL (
    SELECT json_agg({_comment_json("c", "cu", "cr")} ORDER BY c.created_at, c.id) AS comments
    FROM (SELECT * FROM comments c
          WHERE c.post_id = p.id AND c.parent_id IS NULL AND c.deleted_at IS NULL AND c.status = 'visible'
          ORDER BY c.created_at, c.id LIMIT {FIRST_COMMENTS}) c
    LEFT JOIN users cu ON cu.id = c.author_id
    LEFT JOIN robots cr ON cr.name = c.robot
) fc ON true
"""  # noqa: S608

# What a member may see of a community's posts: the visible ones, and their own pending ones.
_SEEN_BY = "p.deleted_at IS NULL AND (p.status = 'visible' OR (p.status = 'pending' AND p.author_id = {me}))"


def _page(source: str, me: str, limit: str, *, shared: bool = False) -> str:
    """The page's JSON (bytes), how many rows were fetched (limit + 1 means there is more), and the sort key
    of the page's last item. ``source`` yields posts `p` numbered `n` in page order. A ``shared`` page (no
    reader: me is NULL) has the items apart, with their post ids, for the cache to finish per reader."""
    if shared:
        items = f"""statement_timestamp() AS read_at,
       ARRAY(SELECT p.id FROM page p WHERE p.n <= {limit} ORDER BY p.n) AS post_ids,
       ARRAY(SELECT convert_to({_item_json(me)}::text, 'UTF8')
             FROM page p {_ITEM_JOINS} WHERE p.n <= {limit} ORDER BY p.n) AS items"""  # noqa: S608
    else:
        items = f"""convert_to(coalesce(
           (SELECT json_agg({_item_json(me)} ORDER BY p.n) FROM page p {_ITEM_JOINS} WHERE p.n <= {limit}),
           '[]'::json)::text, 'UTF8') AS items"""  # noqa: S608
    return f"""
page AS (SELECT * FROM ({source}) p)
SELECT (SELECT count(*) FROM page) AS fetched,
       (SELECT created_at FROM page WHERE n = {limit}) AS last_created_at,
       (SELECT hot_rank FROM page WHERE n = {limit}) AS last_hot_rank,
       (SELECT essence_at FROM page WHERE n = {limit}) AS last_essence_at,
       (SELECT id FROM page WHERE n = {limit}) AS last_id,
       {items}"""  # noqa: S608


_STANDING = """
standing AS (
    SELECT c.id, m.status FROM communities c
    LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $2
    WHERE c.id = $1
)"""


def _community_page(order: str, key: str, key_type: str, extra: str = "") -> str:
    """A page of one community's posts for a member. $1 community, $2 me, $3/$4 the cursor (NULL: first
    page), $5 limit. ``order`` is the ORDER BY, ``key`` the matching keyset row."""
    source = f"""
        SELECT p.*, row_number() OVER (ORDER BY {order}) AS n FROM (
            SELECT p.* FROM posts p
            WHERE p.community_id = $1 AND {_SEEN_BY.format(me="$2")} {extra}
              AND EXISTS (SELECT FROM standing WHERE status = 'active')
              AND ($3::{key_type} IS NULL OR ({key}) < ($3, $4))
            ORDER BY {order}
            LIMIT $5 + 1
        ) p"""  # noqa: S608
    return f"""WITH {_STANDING},
{_page(source, "$2", "$5")},
       (SELECT status FROM standing) AS standing,
       EXISTS (SELECT FROM standing) AS found
"""  # noqa: S608


FEED_LATEST = _community_page("p.created_at DESC, p.id DESC", "p.created_at, p.id", "timestamptz")
FEED_HOT = _community_page("p.hot_rank DESC, p.id DESC", "p.hot_rank, p.id", "double precision")


def _shared_page(order: str, key: str, key_type: str) -> str:
    """A page of one community's visible posts as everyone sees them (no reader, no standing check), for the
    page cache. $1 community, $2/$3 the cursor (NULL: first page), $4 limit."""
    source = f"""
        SELECT p.*, row_number() OVER (ORDER BY {order}) AS n FROM (
            SELECT p.* FROM posts p
            WHERE p.community_id = $1 AND p.deleted_at IS NULL AND p.status = 'visible'
              AND ($2::{key_type} IS NULL OR ({key}) < ($2, $3))
            ORDER BY {order}
            LIMIT $4 + 1
        ) p"""  # noqa: S608
    return f"WITH {_page(source, 'NULL::bigint', '$4', shared=True)}\n"


SHARED_LATEST = _shared_page("p.created_at DESC, p.id DESC", "p.created_at, p.id", "timestamptz")
SHARED_HOT = _shared_page("p.hot_rank DESC, p.id DESC", "p.hot_rank, p.id", "double precision")

# What a cached page lacks for its reader, in one trip: $1 community, $2 reader, $3 the page's post ids,
# $4 when the page was read (less a slack for transactions in flight then), $5 the edit window in seconds.
# `own_news`: the reader has a pending post there (only they see it) or wrote, edited or deleted one since
# (they see their own writes at once): the page is then built for them alone.
READER_OF_PAGE = """
SELECT c.id IS NOT NULL AS found, m.status AS standing,
       ARRAY(SELECT l.post_id FROM post_likes l WHERE l.user_id = $2 AND l.post_id = ANY($3::bigint[])) AS liked,
       EXISTS (SELECT FROM posts p
               WHERE p.community_id = $1 AND p.author_id = $2 AND p.status = 'pending' AND p.deleted_at IS NULL)
       OR EXISTS (SELECT FROM posts p
                  WHERE p.community_id = $1 AND p.author_id = $2
                    AND p.created_at >= $4::timestamptz - make_interval(secs => $5)
                    AND greatest(p.created_at, p.updated_at, p.deleted_at) >= $4) AS own_news
FROM (SELECT $1::bigint AS id) wanted
LEFT JOIN communities c ON c.id = wanted.id
LEFT JOIN memberships m ON m.community_id = wanted.id AND m.user_id = $2
"""
# Essence: visible posts marked by an admin, most recently marked first; cursor (essence_at, id).
ESSENCE = _community_page(
    "p.essence_at DESC, p.id DESC", "p.essence_at, p.id", "timestamptz", "AND p.essence_at IS NOT NULL"
)

# My feed: the latest posts of the communities I am an active member of, follow and have not muted.
# $1 me, $2/$3 cursor (created_at, id), $4 limit.
_MY_SOURCE = f"""
        SELECT p.*, row_number() OVER (ORDER BY p.created_at DESC, p.id DESC) AS n FROM (
            SELECT p.* FROM memberships m CROSS JOIN LATERAL (
                SELECT p.* FROM posts p
                WHERE p.community_id = m.community_id AND {_SEEN_BY.format(me="$1")}
                  AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2, $3))
                ORDER BY p.created_at DESC, p.id DESC
                LIMIT $4 + 1
            ) p
            WHERE m.user_id = $1 AND m.status = 'active' AND NOT m.unfollowed AND NOT m.notifications_muted
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $4 + 1
        ) p"""  # noqa: S608
MY_FEED = f"WITH {_page(_MY_SOURCE, '$1', '$4')}\n"

# One post as `me` sees it: $1 post, $2 me. The row tells the logic whether `me` may see it.
POST_ITEM = f"""
WITH page AS (SELECT p.*, 1 AS n FROM posts p WHERE p.id = $1)
SELECT p.community_id, p.author_id, p.status, p.deleted_at IS NOT NULL AS deleted, m.status AS standing,
       convert_to(({_item_json("$2")})::text, 'UTF8') AS item
FROM page p
LEFT JOIN memberships m ON m.community_id = p.community_id AND m.user_id = $2
{_ITEM_JOINS}
"""  # noqa: S608

# --- comments ------------------------------------------------------------------------------------------

_COMMENT_SEEN = "c.deleted_at IS NULL AND (c.status = 'visible' OR (c.status = 'pending' AND c.author_id = $2))"


def _comment_page(where: str, with_replies: bool) -> str:
    """A page of comments `t`, oldest first. $1 post or thread, $2 me, $3/$4 cursor, $5 limit."""
    replies = "'[]'::json"
    joins = ""
    if with_replies:
        replies = "coalesce(replies.items, '[]'::json)"
        joins = f"""
           LEFT JOIN LATERAL (
               SELECT json_agg({_comment_json("c", "ru", "rr")} ORDER BY c.created_at, c.id) AS items
               FROM (SELECT * FROM comments c WHERE c.parent_id = t.id AND {_COMMENT_SEEN}
                     ORDER BY c.created_at, c.id LIMIT {FIRST_COMMENTS}) c
               LEFT JOIN users ru ON ru.id = c.author_id
               LEFT JOIN robots rr ON rr.name = c.robot
           ) replies ON true"""  # noqa: S608
    return f"""
WITH page AS (
    SELECT c.*, row_number() OVER (ORDER BY c.created_at, c.id) AS n FROM (
        SELECT c.* FROM comments c
        WHERE {where} AND {_COMMENT_SEEN}
          AND ($3::timestamptz IS NULL OR (c.created_at, c.id) > ($3, $4))
        ORDER BY c.created_at, c.id
        LIMIT $5 + 1
    ) c
)
SELECT (SELECT count(*) FROM page) AS fetched,
       (SELECT created_at FROM page WHERE n = $5) AS last_created_at,
       (SELECT id FROM page WHERE n = $5) AS last_id,
       convert_to(coalesce((
           SELECT json_agg({_comment_json("t", "u", "r", f", 'replies', {replies}")} ORDER BY t.n)
           FROM page t
           LEFT JOIN users u ON u.id = t.author_id
           LEFT JOIN robots r ON r.name = t.robot {joins}
           WHERE t.n <= $5), '[]'::json)::text, 'UTF8') AS items
"""  # noqa: S608


# Threads of a post, each with its first replies; and the replies of one thread.
COMMENT_THREADS = _comment_page("c.post_id = $1 AND c.parent_id IS NULL", with_replies=True)
COMMENT_REPLIES = _comment_page("c.parent_id = $1", with_replies=False)

COMMENT_ITEM = f"""
SELECT convert_to(({_comment_json("c", "u", "r")})::text, 'UTF8') AS item
FROM comments c LEFT JOIN users u ON u.id = c.author_id LEFT JOIN robots r ON r.name = c.robot
WHERE c.id = $1
"""  # noqa: S608

# --- writing posts -------------------------------------------------------------------------------------

USER_OPENID = "SELECT openid, nickname FROM users WHERE id = $1"

# Serialises one member's writes in a community (newcomer limits are counted under this lock).
LOCK_MEMBERSHIP = """
SELECT m.role, m.status, m.joined_at FROM memberships m WHERE m.community_id = $1 AND m.user_id = $2 FOR UPDATE
"""

MEMBERSHIP = "SELECT m.role, m.status, m.joined_at FROM memberships m WHERE m.community_id = $1 AND m.user_id = $2"

# Posts or comments a member wrote in a community since $3 (every status: deleting is no way around a limit).
POSTS_SINCE = """
SELECT count(*) AS written, min(created_at) AS first_at FROM posts
WHERE community_id = $1 AND author_id = $2 AND created_at >= $3
"""
COMMENTS_SINCE = """
SELECT count(*) AS written, min(created_at) AS first_at FROM comments
WHERE community_id = $1 AND author_id = $2 AND created_at >= $3
"""

INSERT_POST = """
INSERT INTO posts (community_id, author_id, kind, text, image_urls, link_kind, link_id, status, check_label)
VALUES ($1, $2, 'post', $3, $4, $5, $6, $7, $8)
RETURNING id, community_id, author_id, text, status, created_at, counted_at
"""

LOCK_POST = """
SELECT id, community_id, author_id, robot, kind, text, image_urls, link_kind, link_id, status, created_at,
       deleted_at, essence_at, counted_at
FROM posts WHERE id = $1 FOR UPDATE
"""

POST = """
SELECT id, community_id, author_id, robot, kind, text, image_urls, link_kind, link_id, status, created_at,
       deleted_at, essence_at, counted_at
FROM posts WHERE id = $1
"""

UPDATE_POST = """
UPDATE posts SET text = $2, image_urls = $3, link_kind = $4, link_id = $5, status = $6, check_label = $7,
       edited_at = now(), updated_at = now()
WHERE id = $1
"""

SET_POST_STATUS = "UPDATE posts SET status = $2, check_label = $3, updated_at = now() WHERE id = $1"

MARK_POST_COUNTED = """
UPDATE posts SET counted_at = now() WHERE id = $1 AND counted_at IS NULL RETURNING counted_at
"""

DELETE_POST = """
UPDATE posts SET deleted_at = now(), deleted_by = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
"""

SET_ESSENCE = """
UPDATE posts SET essence_at = coalesce(essence_at, now()), essence_by = coalesce(essence_by, $2) WHERE id = $1
RETURNING essence_at
"""

CLEAR_ESSENCE = "UPDATE posts SET essence_at = NULL, essence_by = NULL WHERE id = $1"

INSERT_AUDIT = """
INSERT INTO community_audit_log (community_id, actor_id, action, subject_id, details) VALUES ($1, $2, $3, $4, $5)
"""

# --- writing comments ----------------------------------------------------------------------------------

INSERT_COMMENT = """
INSERT INTO comments (community_id, post_id, parent_id, reply_to_id, author_id, text, status, check_label)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id
"""

LOCK_COMMENT = """
SELECT c.id, c.community_id, c.post_id, c.parent_id, c.reply_to_id, c.author_id, c.robot, c.text, c.status,
       c.deleted_at, c.counted_at, c.created_at
FROM comments c WHERE c.id = $1 FOR UPDATE
"""

COMMENT = """
SELECT c.id, c.community_id, c.post_id, c.parent_id, c.reply_to_id, c.author_id, c.robot, c.text, c.status,
       c.deleted_at, c.counted_at, c.created_at
FROM comments c WHERE c.id = $1
"""

SET_COMMENT_STATUS = "UPDATE comments SET status = $2, check_label = $3, updated_at = now() WHERE id = $1"

MARK_COMMENT_COUNTED = """
UPDATE comments SET counted_at = now() WHERE id = $1 AND counted_at IS NULL RETURNING counted_at
"""

DELETE_COMMENT = """
UPDATE comments SET deleted_at = now(), deleted_by = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
RETURNING id
"""

ADD_COMMENT_COUNT = "UPDATE posts SET comment_count = comment_count + $2 WHERE id = $1"
ADD_REPLY_COUNT = "UPDATE comments SET reply_count = reply_count + $2 WHERE id = $1"

# --- likes and shares ----------------------------------------------------------------------------------

INSERT_LIKE = """
INSERT INTO post_likes (post_id, user_id, community_id) VALUES ($1, $2, $3)
ON CONFLICT (post_id, user_id) DO NOTHING
RETURNING true
"""
DELETE_LIKE = "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2 RETURNING true"
ADD_LIKE_COUNT = "UPDATE posts SET like_count = like_count + $2 WHERE id = $1 RETURNING like_count"
LIKE_COUNT = "SELECT like_count FROM posts WHERE id = $1"

INSERT_SHARE = """
INSERT INTO post_shares (post_id, community_id, user_id, target) VALUES ($1, $2, $3, $4)
RETURNING id, created_at
"""
ADD_SHARE_COUNT = "UPDATE posts SET share_count = share_count + 1 WHERE id = $1 RETURNING share_count"

# --- content checks ------------------------------------------------------------------------------------

DROP_POST_CHECK = "DELETE FROM content_checks WHERE post_id = $1"

# Due checks, claimed for $1 seconds so other workers leave them alone meanwhile (no lock held while WeChat
# is asked). The text and the author's openid come along.
CLAIM_CHECKS = """
WITH due AS (
    SELECT id FROM content_checks WHERE next_at <= now() ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE content_checks k SET attempts = attempts + 1, next_at = now() + make_interval(secs => $1)
    FROM due WHERE k.id = due.id
    RETURNING k.id, k.post_id, k.comment_id, k.attempts
)
SELECT k.id, k.post_id, k.comment_id, k.attempts, coalesce(p.text, c.text) AS text, u.openid
FROM claimed k
LEFT JOIN posts p ON p.id = k.post_id
LEFT JOIN comments c ON c.id = k.comment_id
LEFT JOIN users u ON u.id = coalesce(p.author_id, c.author_id)
"""
DROP_CHECK = "DELETE FROM content_checks WHERE id = $1"
RETRY_CHECK = """
UPDATE content_checks SET next_at = now() + make_interval(secs => $2), last_error = $3 WHERE id = $1
"""

# --- notifications -------------------------------------------------------------------------------------

# Whom a new visible comment concerns: the post's author and the author of the comment answered.
NOTIFY_TARGETS = """
SELECT p.author_id AS post_author, rc.author_id AS reply_to_author
FROM posts p LEFT JOIN comments rc ON rc.id = $2
WHERE p.id = $1
"""

INSERT_NOTIFICATION = """
INSERT INTO feed_notifications (user_id, community_id, kind, post_id, comment_id, actor_id, status)
SELECT $1, $2, $3, $4, $5, $6,
       CASE WHEN m.notifications_muted OR m.status IS DISTINCT FROM 'active' THEN 'muted' ELSE 'queued' END
FROM (SELECT 1) one
LEFT JOIN memberships m ON m.community_id = $2 AND m.user_id = $1
ON CONFLICT (comment_id, user_id) DO NOTHING
RETURNING id, status
"""

NOTIFICATION_TO_SEND = """
SELECT n.id, n.kind, n.status, n.created_at, u.openid, actor.nickname AS actor, p.text AS post_text,
       c.text AS comment_text, n.post_id
FROM feed_notifications n
JOIN users u ON u.id = n.user_id
JOIN users actor ON actor.id = n.actor_id
JOIN posts p ON p.id = n.post_id
JOIN comments c ON c.id = n.comment_id
WHERE n.id = $1
"""

FINISH_NOTIFICATION = """
UPDATE feed_notifications SET status = $2, errcode = $3, sent_at = CASE WHEN $2 = 'sent' THEN now() END
WHERE id = $1 AND status = 'queued'
"""

# --- digests -------------------------------------------------------------------------------------------

DIGEST_COMMUNITIES = "SELECT id FROM communities WHERE id > $1 ORDER BY id LIMIT $2"

CLAIM_DIGEST = """
INSERT INTO feed_digests (community_id, week_start) VALUES ($1, $2)
ON CONFLICT (community_id, week_start) DO NOTHING
RETURNING community_id
"""

# The week's most engaged visible posts by members, best first. $1 community, $2..$3 the week, $4 how many.
DIGEST_CANDIDATES = """
SELECT p.id, p.text, u.nickname, p.like_count, p.comment_count, p.share_count,
       p.like_count + 2 * p.comment_count + 3 * p.share_count AS engagement
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.community_id = $1 AND p.created_at >= $2 AND p.created_at < $3 AND p.deleted_at IS NULL
  AND p.status = 'visible' AND p.author_id IS NOT NULL
  AND p.like_count + p.comment_count + p.share_count > 0
ORDER BY engagement DESC, p.created_at, p.id
LIMIT $4
"""

SET_DIGEST = "UPDATE feed_digests SET post_id = $3, post_ids = $4 WHERE community_id = $1 AND week_start = $2"

# --- views ---------------------------------------------------------------------------------------------

VIEW_WATERMARK = "SELECT watermark FROM rollup_state WHERE name = 'feed.views'"
SET_VIEW_WATERMARK = """
INSERT INTO rollup_state (name, watermark) VALUES ('feed.views', $1)
ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark
"""

# Posts viewed in events recorded since $1: their view counts recomputed exactly from the events (a view
# counted twice is impossible, a retention drop never lowers a count).
REFRESH_VIEW_COUNTS = """
WITH touched AS (
    SELECT DISTINCT post_id FROM interaction_events
    WHERE recorded_at >= $1 AND post_id IS NOT NULL AND kind IN ('post_view', 'page_view')
), counted AS (
    SELECT e.post_id, count(*)::int AS views FROM interaction_events e JOIN touched USING (post_id)
    WHERE e.post_id IS NOT NULL AND e.kind IN ('post_view', 'page_view')
    GROUP BY e.post_id
)
UPDATE posts p SET view_count = greatest(p.view_count, counted.views)
FROM counted WHERE p.id = counted.post_id AND p.view_count < counted.views
"""
