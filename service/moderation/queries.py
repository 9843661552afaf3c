"""SQL of moderation: reports, cases, decisions. Ids leave as text."""

from __future__ import annotations

from service.core.access import role_of
from service.core.media import IMAGES_JSON

# What is reported: where, whose, and whether the reporter can see it.
# `held`: taken out of sight and still there (pending): reportable only while others' reports keep it hidden.
# A comment is seen with its post and its thread: no member sees the comments of a deleted, refused or held post,
# nor the replies of such a thread.
_COMMENT_SEEN = """p.deleted_at IS NULL AND p.status = 'visible'
                   AND (t.id IS NULL OR t.deleted_at IS NULL AND t.status = 'visible')"""
TARGETS = {
    "post": """SELECT community_id, author_id, deleted_at IS NULL AND status = 'visible' AS visible,
                      deleted_at IS NULL AND status = 'pending' AS held
               FROM posts WHERE id = $1""",
    "comment": f"""SELECT c.community_id, c.author_id, c.deleted_at IS NULL AND c.status = 'visible' AND {_COMMENT_SEEN}
                          AS visible,
                          c.deleted_at IS NULL AND c.status = 'pending' AND {_COMMENT_SEEN} AS held
                   FROM comments c
                   JOIN posts p ON p.id = c.post_id AND p.community_id = c.community_id
                   LEFT JOIN comments t ON t.id = c.parent_id AND t.community_id = c.community_id
                   WHERE c.id = $1""",  # noqa: S608
    "member": """SELECT community_id, user_id AS author_id, status = 'active' AS visible, false AS held
                 FROM memberships WHERE user_id = $1 AND community_id = $2""",
    "community": """SELECT id AS community_id, NULL::bigint AS author_id, true AS visible, false AS held
                    FROM communities WHERE id = $1""",
}

HIDDEN_BY_REPORTS = """
SELECT EXISTS (SELECT FROM moderation_cases
               WHERE community_id = $1 AND target_kind = $2 AND target_id = $3 AND status = 'open' AND hidden)
"""

ROLE = "SELECT role FROM memberships WHERE community_id = $1 AND user_id = $2 AND status = 'active'"
# The role the access check gives someone: the brand's team is admin in the brand's communities, joined or not.
STANDING_ROLE = f"SELECT {role_of('$1', '$2')}"  # noqa: S608

OPEN_CASE = """
INSERT INTO moderation_cases (community_id, queue, target_kind, target_id, author_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (target_kind, target_id, community_id) WHERE status = 'open'
DO UPDATE SET reporters = moderation_cases.reporters
RETURNING id, hidden
"""

INSERT_REPORT = """
INSERT INTO reports (reporter_id, community_id, case_id, target_kind, target_id, reason, note)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING  -- one per reporter and target in its community (no target: Citus widens that key)
RETURNING id
"""

# One more reporter (the case row is locked by OPEN_CASE); content is hidden when they reach the threshold ($2).
COUNT_REPORTER = """
UPDATE moderation_cases SET reporters = reporters + 1,
       hidden = hidden OR (target_kind IN ('post', 'comment') AND reporters + 1 >= $2)
WHERE id = $1
RETURNING hidden
"""

_REPORT = """
SELECT r.id::text AS id, r.target_kind, r.target_id::text AS target_id, r.community_id::text AS community_id,
       r.reason, r.note, CASE c.status WHEN 'open' THEN 'pending' WHEN 'approved' THEN 'dismissed' ELSE 'upheld' END
       AS outcome, r.created_at, c.decided_at, r.id AS sort_id
FROM reports r JOIN moderation_cases c ON c.id = r.case_id AND c.community_id = r.community_id
"""
REPORT = _REPORT + "WHERE r.id = $1"
MY_REPORTS = _REPORT + "WHERE r.reporter_id = $1 AND ($2::bigint IS NULL OR r.id < $2) ORDER BY r.id DESC LIMIT $3"

# Content WeChat's check held for review (its text, or one of its photos) becomes a case of its community's
# queue, or the operator's for the staff's own content; $1: one community, or NULL for all.
COLLECT_REVIEWS = """
INSERT INTO moderation_cases (community_id, queue, target_kind, target_id, author_id, review)
SELECT t.community_id, CASE WHEN m.role IN ('owner', 'admin') THEN 'operator' ELSE 'community' END,
       t.kind, t.id, t.author_id, true
FROM (
    SELECT 'post' AS kind, id, community_id, author_id, check_label, image_ids FROM posts
    WHERE status = 'pending' AND deleted_at IS NULL AND author_id IS NOT NULL
      AND ($1::bigint IS NULL OR community_id = $1)
    UNION ALL
    SELECT 'comment', id, community_id, author_id, check_label,
           CASE WHEN image_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[image_id] END FROM comments
    WHERE status = 'pending' AND deleted_at IS NULL AND author_id IS NOT NULL
      AND ($1::bigint IS NULL OR community_id = $1)
) t
LEFT JOIN memberships m ON m.community_id = t.community_id AND m.user_id = t.author_id AND m.status = 'active'
WHERE t.check_label IS NOT NULL
   OR EXISTS (SELECT FROM media md JOIN media_objects o ON o.sha256 = md.object_sha256
              WHERE md.id = ANY(t.image_ids) AND o.status = 'review')
ON CONFLICT (target_kind, target_id, community_id) WHERE status = 'open'
DO UPDATE SET review = true WHERE NOT moderation_cases.review
"""

_UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

# The photos of a post or a comment's one photo; a member or a community has none.
_IMAGES = IMAGES_JSON.format(
    ids="coalesce(p.image_ids, CASE WHEN cm.image_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[cm.image_id] END)"
)
_MUTED_UNTIL = _UTC.format("ms.muted_until")
# The queue a case is decided in now: a community's case whose author has since become one of its staff goes to
# the operator's (the staff do not judge themselves; nor does a member promoted after being reported).
# The staff as the access check reads them: the brand's team stands as admin in the brand's communities.
_QUEUE_NOW = f"""CASE WHEN c.queue = 'community' AND {role_of("c.community_id", "c.author_id")} IN ('owner', 'admin')
    THEN 'operator' ELSE c.queue END"""  # noqa: S608
_CASE = f"""
SELECT c.id::text AS id, c.community_id::text AS community_id, {_QUEUE_NOW} AS queue, c.target_kind,
       c.target_id::text AS target_id,
       CASE c.target_kind WHEN 'post' THEN c.target_id::text WHEN 'comment' THEN cm.post_id::text END AS post_id,
       coalesce(CASE c.target_kind WHEN 'post' THEN p.text WHEN 'comment' THEN cm.text
                WHEN 'member' THEN u.nickname ELSE co.name END, '') AS text,
       {_IMAGES} AS images,
       CASE WHEN u.id IS NULL THEN NULL
            ELSE json_build_object('id', u.id::text, 'nickname', u.nickname, 'avatarUrl', u.avatar_url) END AS author,
       c.review, c.hidden, c.reporters,
       coalesce((SELECT json_agg(json_build_object('reason', x.reason, 'count', x.n) ORDER BY x.n DESC, x.reason)
                 FROM (SELECT reason, count(*) AS n FROM reports
                       WHERE case_id = c.id AND community_id = c.community_id GROUP BY reason) x), '[]')
       AS reasons,
       coalesce((SELECT json_agg(r.note ORDER BY r.id) FROM reports r
                 WHERE r.case_id = c.id AND r.community_id = c.community_id AND r.note <> ''), '[]')
       AS notes,
       CASE WHEN c.author_id IS NULL THEN NULL ELSE json_build_object(
           'removals', (SELECT count(*) FROM moderation_cases h WHERE h.community_id = c.community_id
                        AND h.author_id = c.author_id AND h.status = 'removed' AND h.id <> c.id),
           'mutes', (SELECT count(*) FROM community_audit_log a WHERE a.community_id = c.community_id
                     AND a.subject_id = c.author_id AND a.action = 'member.muted'),
           'mutedUntil', {_MUTED_UNTIL}, 'role', ms.role) END AS history,
       c.status, c.reason, c.opened_at, c.decided_at, c.id AS sort_id
FROM moderation_cases c
LEFT JOIN posts p ON c.target_kind = 'post' AND p.id = c.target_id AND p.community_id = c.community_id
LEFT JOIN comments cm ON c.target_kind = 'comment' AND cm.id = c.target_id AND cm.community_id = c.community_id
LEFT JOIN communities co ON co.id = c.community_id
LEFT JOIN users u ON u.id = c.author_id
LEFT JOIN memberships ms ON ms.community_id = c.community_id AND ms.user_id = c.author_id AND ms.status = 'active'
"""  # noqa: S608
CASE = _CASE + "WHERE c.id = $1"
# $1 community (NULL: every community's operator cases), $2 queue, $3 open or decided, $4 cursor, $5 limit.
QUEUE = (
    _CASE
    + f"""WHERE ($1::bigint IS NULL OR c.community_id = $1) AND {_QUEUE_NOW} = $2
  AND (c.status = 'open') = ($3 = 'open') AND ($4::bigint IS NULL OR c.id < $4)
ORDER BY c.id DESC LIMIT $5"""  # noqa: S608
)

CASE_ROW = "SELECT * FROM moderation_cases WHERE id = $1"
# $1 the case's community, $2 the case: a row lock Citus takes on the community's shard (it takes none by id).
LOCK_CASE = "SELECT * FROM moderation_cases WHERE community_id = $1 AND id = $2 FOR UPDATE"
# The queue the case is decided in now (_QUEUE_NOW); apart from the lock, which Citus takes on no subquery.
QUEUE_NOW = f"SELECT {_QUEUE_NOW} FROM moderation_cases c WHERE c.community_id = $1 AND c.id = $2"  # noqa: S608

# Whether the author of a post or comment ($1 community, $2 id) deleted it themselves: nothing to tell them then.
DELETED_BY_AUTHOR = {
    kind: f"""SELECT deleted_at IS NOT NULL AND deleted_by = author_id FROM {table}
               WHERE community_id = $1 AND id = $2"""  # noqa: S608
    for kind, table in (("post", "posts"), ("comment", "comments"))
}

DECIDE = """
UPDATE moderation_cases SET status = $2, decided_by = $3, reason = $4, decided_at = now() WHERE id = $1
"""

INSERT_ACTION = """
INSERT INTO moderation_actions (case_id, community_id, actor_id, action, reason, details)
VALUES ($1, $2, $3, $4, $5, $6)
"""

MY_REMOVALS = """
SELECT c.id::text AS case_id, c.community_id::text AS community_id, c.target_kind, c.target_id::text AS target_id,
       coalesce(p.text, cm.text, '') AS text, c.reason, c.decided_at, c.id AS sort_id
FROM moderation_cases c
LEFT JOIN posts p ON c.target_kind = 'post' AND p.id = c.target_id AND p.community_id = c.community_id
LEFT JOIN comments cm ON c.target_kind = 'comment' AND cm.id = c.target_id AND cm.community_id = c.community_id
WHERE c.author_id = $1 AND c.status = 'removed' AND c.target_kind IN ('post', 'comment')
  -- Deleted by its author before the decision: not removed from them (nor told: DELETED_BY_AUTHOR).
  AND NOT coalesce(p.deleted_by = c.author_id AND p.deleted_at < c.decided_at, false)
  AND NOT coalesce(cm.deleted_by = c.author_id AND cm.deleted_at < c.decided_at, false)
  AND ($2::bigint IS NULL OR c.id < $2)
ORDER BY c.id DESC LIMIT $3
"""

REPORTERS = "SELECT id, reporter_id FROM reports WHERE case_id = $1"

# The outcome's subscribe messages (jobs.py): each one claimed ('sending') before it is sent, so it goes out at most
# once; released (null again) when WeChat was unavailable, for the retried job.
NOTICE_CASE = """
SELECT target_kind, status, reason FROM moderation_cases WHERE id = $1 AND notified_at IS NULL AND status <> 'open'
"""
UNSENT_REPORTS = "SELECT id FROM reports WHERE case_id = $1 AND notice IS NULL ORDER BY id"
CLAIM_AUTHOR_NOTICE = """
UPDATE moderation_cases c SET author_notice = 'sending' FROM users u
WHERE c.id = $1 AND c.author_notice IS NULL AND u.id = c.author_id AND u.openid IS NOT NULL
RETURNING u.openid
"""
CLAIM_REPORT_NOTICE = """
UPDATE reports r SET notice = 'sending' FROM users u
WHERE r.id = $1 AND r.notice IS NULL AND u.id = r.reporter_id AND u.openid IS NOT NULL
RETURNING u.openid
"""
SET_AUTHOR_NOTICE = "UPDATE moderation_cases SET author_notice = $2 WHERE id = $1 AND author_notice = 'sending'"
SET_REPORT_NOTICE = "UPDATE reports SET notice = $2 WHERE id = $1 AND notice = 'sending'"
NOTIFIED = "UPDATE moderation_cases SET notified_at = now() WHERE id = $1 AND notified_at IS NULL"
