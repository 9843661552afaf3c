"""The SQL that writes the feed, and its jobs' SQL (content checks, notifications, digests, views): $n
parameters only. The read paths are in page_queries.py.
"""

from __future__ import annotations

from service.core.access import standing_status

# --- writing posts -------------------------------------------------------------------------------------

USER_OPENID = "SELECT openid, nickname FROM users WHERE id = $1"
# A post links to a poll of its own community (no product catalogue is kept: a product id is the shop's).
POLL_OF_COMMUNITY = "SELECT EXISTS (SELECT 1 FROM polls WHERE id = $1 AND community_id = $2)"

# Serialises one member's writes in a community (newcomer limits are counted under this lock).
MEMBERSHIP = "SELECT m.role, m.status, m.joined_at FROM memberships m WHERE m.community_id = $1 AND m.user_id = $2"
LOCK_MEMBERSHIP = MEMBERSHIP + " FOR UPDATE"

# Posts or comments a member wrote in a community since $3 (every status: deleting is no way around a limit).
_WRITTEN_SINCE = """
SELECT count(*) AS written, min(created_at) AS first_at FROM {table}
WHERE community_id = $1 AND author_id = $2 AND created_at >= $3
"""
POSTS_SINCE = _WRITTEN_SINCE.format(table="posts")
COMMENTS_SINCE = _WRITTEN_SINCE.format(table="comments")

INSERT_POST = """
INSERT INTO posts (community_id, author_id, kind, text, link_kind, link_id, status, check_label, image_ids,
                   mention_ids)
VALUES ($1, $2, 'post', $3, $4, $5, $6, $7, $8, $9)
RETURNING id, community_id, author_id, text, status, created_at, counted_at
"""

_POST = """
SELECT id, community_id, author_id, robot, kind, text, image_urls, link_kind, link_id, status, created_at,
       deleted_at, essence_at, counted_at, image_ids, check_label, mention_ids, hidden_at
FROM posts
"""
POST = _POST + "WHERE id = $1\n"
# Locked by $1 the community (read first by POST_COMMUNITY: service/feed/locks.py) and $2 the post, as Citus requires.
POST_COMMUNITY = "SELECT community_id FROM posts WHERE id = $1"
LOCK_POST = _POST + "WHERE community_id = $1 AND id = $2\nFOR UPDATE\n"

UPDATE_POST = """
UPDATE posts SET text = $2, image_ids = $3, link_kind = $4, link_id = $5, status = $6, check_label = $7,
       mention_ids = $8, edited_at = now(), updated_at = now()
WHERE id = $1
"""

SET_POST_STATUS = "UPDATE posts SET status = $2, check_label = $3, updated_at = now() WHERE id = $1"
# Moderation: $2 true hides the post (reports), false ends that (a person decided).
SET_POST_HIDDEN = """
UPDATE posts p SET hidden_at = CASE WHEN $2 THEN t.now END
FROM (SELECT now() AS now) t  -- Citus takes no now() inside a CASE of a distributed UPDATE
WHERE p.id = $1
"""

MARK_POST_COUNTED = """
UPDATE posts SET counted_at = now() WHERE id = $1 AND counted_at IS NULL RETURNING counted_at
"""

DELETE_POST = """
UPDATE posts SET deleted_at = now(), deleted_by = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
"""

SET_ESSENCE = """
UPDATE posts SET essence_at = least(essence_at, now()), essence_by = coalesce(essence_by, $2) WHERE id = $1
RETURNING essence_at
"""

CLEAR_ESSENCE = "UPDATE posts SET essence_at = NULL, essence_by = NULL WHERE id = $1"

INSERT_AUDIT = """
INSERT INTO community_audit_log (community_id, actor_id, action, subject_id, details) VALUES ($1, $2, $3, $4, $5)
"""

# --- writing comments ----------------------------------------------------------------------------------

INSERT_COMMENT = """
INSERT INTO comments (community_id, post_id, parent_id, reply_to_id, author_id, text, status, check_label, image_id,
                      mention_ids)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id
"""

_COMMENT = """
SELECT c.id, c.community_id, c.post_id, c.parent_id, c.reply_to_id, c.author_id, c.robot, c.text, c.status,
       c.deleted_at, c.counted_at, c.created_at, c.image_id, c.check_label
FROM comments c
"""
COMMENT = _COMMENT + "WHERE c.id = $1\n"
# Locked as posts are: $1 the community (read first by COMMENT_COMMUNITY), $2 the comment.
COMMENT_COMMUNITY = "SELECT community_id FROM comments WHERE id = $1"
LOCK_COMMENT = _COMMENT + "WHERE c.community_id = $1 AND c.id = $2\nFOR UPDATE\n"

SET_COMMENT_STATUS = "UPDATE comments SET status = $2, check_label = $3, updated_at = now() WHERE id = $1"

MARK_COMMENT_COUNTED = """
UPDATE comments SET counted_at = now() WHERE id = $1 AND counted_at IS NULL RETURNING counted_at
"""

DELETE_COMMENT = """
UPDATE comments SET deleted_at = now(), deleted_by = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
RETURNING id
"""

ADD_COMMENT_COUNT = "UPDATE posts SET comment_count = comment_count + $2 WHERE id = $1"
# Whether a comment's post ($1 community, $2 post) still stands, locked as the count's update would lock it: a
# deletion committed meanwhile is seen, and one that follows waits for the count.
POST_STANDS = """
SELECT deleted_at IS NULL AND status <> 'rejected' FROM posts WHERE community_id = $1 AND id = $2 FOR NO KEY UPDATE
"""
ADD_REPLY_COUNT = "UPDATE comments SET reply_count = reply_count + $2 WHERE id = $1"
# Whether a reply's thread ($1 community, $2 thread) still stands, locked as the reply count's update would lock it:
# a thread deleted or removed takes its replies out of sight and out of the post's count (THREAD_REPLIES_COUNTED).
THREAD_STANDS = """
SELECT deleted_at IS NULL AND status <> 'rejected' FROM comments WHERE community_id = $1 AND id = $2 FOR NO KEY UPDATE
"""
# The replies of thread $2 (community $1) in the post's count now: counted, neither deleted nor removed.
THREAD_REPLIES_COUNTED = """
SELECT count(*)::int FROM comments
WHERE community_id = $1 AND parent_id = $2 AND counted_at IS NOT NULL AND deleted_at IS NULL AND status <> 'rejected'
"""

# --- likes and shares ----------------------------------------------------------------------------------

INSERT_LIKE = """
INSERT INTO post_likes (post_id, user_id, community_id) VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT post_likes_pkey DO NOTHING  -- by name: on Citus the key gains community_id
RETURNING true
"""
# A member's first like of a post ever (post_likers outlives an unlike): only that one is recorded as a `like`.
FIRST_LIKE = """
INSERT INTO post_likers (post_id, user_id, community_id) VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT post_likers_pkey DO NOTHING  -- by name: on Citus the key gains community_id
RETURNING true
"""
DELETE_LIKE = "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2 RETURNING true"
ADD_LIKE_COUNT = "UPDATE posts SET like_count = like_count + $2 WHERE id = $1 RETURNING like_count"
LIKE_COUNT = "SELECT like_count FROM posts WHERE id = $1"

INSERT_SHARE = """
INSERT INTO post_shares (post_id, community_id, user_id, target, code) VALUES ($1, $2, $3, $4, $5)
RETURNING id, created_at
"""
ADD_SHARE_COUNT = "UPDATE posts SET share_count = share_count + 1 WHERE id = $1 RETURNING share_count"
SHARE_COUNT = "SELECT share_count FROM posts WHERE id = $1"
# Whether member $2 shared post $3 (community $1) before: shares count members, not clicks (read under the post's lock).
SHARED_BEFORE = """
SELECT EXISTS (SELECT FROM post_shares WHERE community_id = $1 AND user_id = $2 AND post_id = $3)
"""

# What a shared link shows anyone: only a visible, undeleted post; the community's public card; the sharer.
SHARE_PREVIEW = """
SELECT s.code, p.id, left(p.text, $2) AS excerpt, char_length(p.text) > $2 AS truncated,
       cardinality(p.image_ids) + cardinality(p.image_urls) AS image_count, p.like_count, p.comment_count,
       p.created_at, coalesce(a.nickname, '') AS author_nickname, p.robot, coalesce(sh.nickname, '') AS sharer_nickname,
       c.id AS community_id, c.name, left(c.description, $2) AS description, c.cover_url, c.member_count,
       c.member_cap, c.entry_mode, c.price_fen, c.series_id IS NOT NULL AS in_series
FROM post_shares s
JOIN posts p ON p.id = s.post_id AND p.community_id = s.community_id
JOIN communities c ON c.id = s.community_id
LEFT JOIN users a ON a.id = p.author_id
LEFT JOIN users sh ON sh.id = s.user_id
WHERE s.code = $1 AND p.status = 'visible' AND p.deleted_at IS NULL
ORDER BY s.id LIMIT 1
"""

# --- content checks ------------------------------------------------------------------------------------

DROP_POST_CHECK = "DELETE FROM content_checks WHERE post_id = $1"
DROP_COMMENT_CHECK = "DELETE FROM content_checks WHERE comment_id = $1"

# Due checks, found across communities without a lock, then each claimed on its community's shard for $1
# seconds (skipped if another worker holds it) so other workers leave it alone meanwhile (no lock held while
# WeChat is asked). The text and the author's openid come along.
DUE_CHECKS = """
SELECT community_id, id FROM content_checks WHERE next_at <= now() ORDER BY next_at, id LIMIT $1
"""

CLAIM_CHECK = """
WITH due AS (
    SELECT id FROM content_checks WHERE community_id = $1 AND id = $2 AND next_at <= now() FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE content_checks k SET attempts = attempts + 1, next_at = now() + make_interval(secs => $3)
    FROM due WHERE k.community_id = $1 AND k.id = due.id
    RETURNING k.id, k.post_id, k.comment_id, k.attempts
)
SELECT k.id, k.post_id, k.comment_id, k.attempts, coalesce(p.text, c.text) AS text, u.openid
FROM claimed k
LEFT JOIN posts p ON p.community_id = $1 AND p.id = k.post_id
LEFT JOIN comments c ON c.community_id = $1 AND c.id = k.comment_id
LEFT JOIN users u ON u.id = coalesce(p.author_id, c.author_id)
"""
DROP_CHECK = "DELETE FROM content_checks WHERE id = $1"
RETRY_CHECK = """
UPDATE content_checks SET next_at = now() + make_interval(secs => $2), last_error = $3 WHERE id = $1
"""

# --- notifications -------------------------------------------------------------------------------------

# Whom a new visible comment concerns: the post's author and the author of the comment answered. $3 the community.
# The answered comment ($2, NULL for none) in a subquery: a join made false by a NULL parameter leaves Citus no
# shard for it, and it refuses the statement.
NOTIFY_TARGETS = """
SELECT p.author_id AS post_author,
       (SELECT rc.author_id FROM comments rc WHERE rc.community_id = $3 AND rc.id = $2) AS reply_to_author
FROM posts p
WHERE p.id = $1 AND p.community_id = $3
"""

# Muted: the recipient muted the community (a setting of their membership row), or does not stand there (the brand's
# team stands there, member or not, as the access check reads it: core/access.py).
INSERT_NOTIFICATION = f"""
INSERT INTO feed_notifications (user_id, community_id, kind, post_id, comment_id, actor_id, status)
SELECT $1, $2, $3, $4, $5, $6,
       CASE WHEN m.notifications_muted OR {standing_status()} IS DISTINCT FROM 'active' THEN 'muted' ELSE 'queued' END
FROM communities c
LEFT JOIN memberships m ON m.community_id = $2 AND m.user_id = $1
LEFT JOIN brand_admins b ON b.brand_id = c.brand_id AND b.user_id = $1
WHERE c.id = $2
ON CONFLICT DO NOTHING  -- once per comment and member (no target: Citus widens that key)
RETURNING id, status
"""  # noqa: S608

# `shown`: what it tells of is still there for its recipient when it is sent (a job may run late): the post and the
# comment visible, a reply's thread too (one gone takes its replies with it), the recipient still standing there (an
# active member, or on the brand's team).
NOTIFICATION_TO_SEND = f"""
SELECT n.id, n.kind, n.status, n.created_at, u.openid, actor.nickname AS actor, p.text AS post_text,
       c.text AS comment_text, n.post_id,
       p.deleted_at IS NULL AND p.status = 'visible' AND c.deleted_at IS NULL AND c.status = 'visible'
       AND (c.parent_id IS NULL OR t.deleted_at IS NULL AND t.status = 'visible')
       AND {standing_status("m", "a")} IS NOT DISTINCT FROM 'active'
       AND b.blocker_id IS NULL AS shown
FROM feed_notifications n
JOIN users u ON u.id = n.user_id
JOIN users actor ON actor.id = n.actor_id
JOIN posts p ON p.id = n.post_id AND p.community_id = n.community_id
JOIN comments c ON c.id = n.comment_id AND c.community_id = n.community_id
LEFT JOIN comments t ON t.id = c.parent_id AND t.community_id = n.community_id
-- The recipient blocked the commenter since: nothing of theirs reaches the recipient (docs/safety.md).
LEFT JOIN member_blocks b ON b.blocker_id = n.user_id AND b.blocked_id = n.actor_id
LEFT JOIN communities nc ON nc.id = n.community_id
LEFT JOIN memberships m ON m.community_id = n.community_id AND m.user_id = n.user_id
LEFT JOIN brand_admins a ON a.brand_id = nc.brand_id AND a.user_id = n.user_id
WHERE n.id = $1
"""  # noqa: S608

FINISH_NOTIFICATION = """
UPDATE feed_notifications n SET status = $2, errcode = $3, sent_at = CASE WHEN $2 = 'sent' THEN t.now END
FROM (SELECT now() AS now) t  -- Citus takes no now() inside a CASE of a distributed UPDATE
WHERE n.id = $1 AND n.status = 'queued'
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
SELECT p.id, p.text, u.nickname, p.like_count, p.comment_count, p.share_count, true AS shown,
       p.like_count + 2 * p.comment_count + 3 * p.share_count AS engagement
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.community_id = $1 AND p.created_at >= $2 AND p.created_at < $3 AND p.deleted_at IS NULL
  AND p.status = 'visible' AND p.author_id IS NOT NULL
  AND p.like_count + p.comment_count + p.share_count > 0
ORDER BY engagement DESC, p.created_at, p.id
LIMIT $4
"""

SET_DIGEST = "UPDATE feed_digests SET post_id = $3, post_ids = $4 WHERE community_id = $1 AND week_start = $2"

# The digests of community $1 (still shown) that list one of the posts $2, with their text.
DIGESTS_LISTING = """
SELECT d.post_id, d.post_ids, p.text
FROM feed_digests d JOIN posts p ON p.community_id = d.community_id AND p.id = d.post_id
WHERE d.community_id = $1 AND d.post_ids && $2::bigint[] AND p.deleted_at IS NULL
"""

# A digest's posts $2 in its order, as they are now: whether each is still shown, its author's name ($4 for the
# account $3 being erased).
DIGEST_LINES = """
SELECT p.text, p.like_count, p.comment_count, p.share_count,
       p.status = 'visible' AND p.deleted_at IS NULL AS shown,
       CASE WHEN p.author_id = $3 THEN $4 ELSE u.nickname END AS nickname
FROM unnest($2::bigint[]) WITH ORDINALITY AS d(id, rank)
JOIN posts p ON p.community_id = $1 AND p.id = d.id
LEFT JOIN users u ON u.id = p.author_id
ORDER BY d.rank
"""

SET_DIGEST_TEXT = "UPDATE posts SET text = $3 WHERE community_id = $1 AND id = $2"

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

# The uploads of an image file whose check just ended (a file may be shared by uploaders anywhere).
MEDIA_OF_OBJECT = "SELECT array_agg(id) FROM media WHERE object_sha256 = $1"

# The uploads of a post or a comment ($1), read before its lock (moderation.apply_moderation).
IMAGE_IDS = {
    "post": "SELECT image_ids FROM posts WHERE id = $1",
    "comment": "SELECT array_remove(ARRAY[image_id], NULL) FROM comments WHERE id = $1",
}

# Posts held for one of those uploads (the text passed or is itself still held): found across communities
# without a lock, then each locked on its community's shard and read again (LOCK_POST_WAITING, $3 the uploads).
POSTS_WAITING_FOR = """
SELECT p.community_id, p.id
FROM posts p
WHERE p.status = 'pending' AND p.image_ids <> '{}' AND p.deleted_at IS NULL
  AND p.image_ids && $1::bigint[]
ORDER BY p.id
"""

LOCK_POST_WAITING = """
SELECT p.id, p.community_id, p.author_id, p.text, p.image_ids, p.check_label, p.counted_at,
       EXISTS (SELECT FROM content_checks k WHERE k.community_id = $1 AND k.post_id = p.id)
           AS text_unchecked
FROM posts p
WHERE p.community_id = $1 AND p.id = $2 AND p.status = 'pending' AND p.image_ids <> '{}' AND p.deleted_at IS NULL
  AND p.image_ids && $3::bigint[]
FOR UPDATE OF p
"""

# Comments held for one of them, the same way.
COMMENTS_WAITING_FOR = """
SELECT c.community_id, c.id
FROM comments c
WHERE c.status = 'pending' AND c.deleted_at IS NULL
  AND c.image_id = ANY($1::bigint[])
ORDER BY c.id
"""

LOCK_COMMENT_WAITING = """
SELECT c.id, c.image_id, c.check_label,
       EXISTS (SELECT FROM content_checks k WHERE k.community_id = $1 AND k.comment_id = c.id)
           AS text_unchecked
FROM comments c
WHERE c.community_id = $1 AND c.id = $2 AND c.status = 'pending' AND c.deleted_at IS NULL
  AND c.image_id = ANY($3::bigint[])
FOR UPDATE OF c
"""
