"""The SQL of the warm-up robot: $n parameters only."""

from __future__ import annotations

from service.core.apps import app_active

ENSURE_SETTINGS = "INSERT INTO warmup_settings (community_id) VALUES ($1) ON CONFLICT (community_id) DO NOTHING"

SETTINGS = """
SELECT s.*, c.timezone,
       (SELECT count(*) FROM warmup_topics t WHERE t.community_id = s.community_id AND t.deleted_at IS NULL)::int
           AS topic_count
FROM warmup_settings s JOIN communities c ON c.id = s.community_id
WHERE s.community_id = $1
"""

UPDATE_SETTINGS = """
UPDATE warmup_settings SET enabled = $2, quiet_minutes = $3, active_from = $4, active_until = $5, updated_at = now()
WHERE community_id = $1
"""

TOPIC = """
SELECT id::text AS id, text, position, used_count, created_at FROM warmup_topics
WHERE id = $1 AND community_id = $2 AND deleted_at IS NULL
"""

# The cursor's position as bigint, as the cursor admits it: an int4 cast failed in the driver (a 500).
TOPICS = """
SELECT id::text AS id, text, position, used_count, created_at, id AS sort_id FROM warmup_topics
WHERE community_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR (position, id) > ($2, $3))
ORDER BY position, sort_id  -- the number, as the cursor and NEXT_TOPIC (a bare `id` is the text column)
LIMIT $4
"""

INSERT_TOPIC = """
INSERT INTO warmup_topics (community_id, text, position, created_by)
SELECT $1, $2, coalesce($3, coalesce(max(position), 0) + 1), $4 FROM warmup_topics WHERE community_id = $1
RETURNING id
"""

UPDATE_TOPIC = """
UPDATE warmup_topics SET text = coalesce($3, text), position = coalesce($4, position)
WHERE id = $1 AND community_id = $2 AND deleted_at IS NULL
RETURNING id
"""

DELETE_TOPIC = """
UPDATE warmup_topics SET deleted_at = now() WHERE id = $1 AND community_id = $2 AND deleted_at IS NULL RETURNING id
"""

# The topic after the last one posted (by position, then id), or the first again after the last.
NEXT_TOPIC = """
SELECT id::text AS id, text, position, used_count, created_at FROM warmup_topics t
WHERE t.community_id = $1 AND t.deleted_at IS NULL
ORDER BY ((t.position, t.id) <= (
             SELECT l.position, l.id FROM warmup_topics l WHERE l.id = $2 AND l.community_id = $1
         )) IS TRUE,
         t.position, t.id
LIMIT 1
"""

# The robot's view of a community: its hours and the latest member post or comment (robots never count).
CANDIDATES = f"""
SELECT s.community_id, s.enabled, s.quiet_minutes, s.active_from, s.active_until, s.last_posted_at,
       s.last_topic_id, c.timezone, c.created_at AS community_created_at,
       greatest(
           (SELECT max(p.created_at) FROM posts p
            WHERE p.community_id = s.community_id AND p.author_id IS NOT NULL AND p.deleted_at IS NULL),
           (SELECT max(cm.created_at) FROM comments cm
            WHERE cm.community_id = s.community_id AND cm.author_id IS NOT NULL AND cm.deleted_at IS NULL)
       ) AS last_member_at
FROM warmup_settings s JOIN communities c ON c.id = s.community_id
WHERE s.enabled AND {app_active("s.community_id", "'warmup'")}
  AND EXISTS (SELECT 1 FROM warmup_topics t WHERE t.community_id = s.community_id AND t.deleted_at IS NULL)
ORDER BY s.community_id
"""  # noqa: S608 - a constant expression

# The same, for one community, locked: two workers never post for the same silence.
LOCK_STATE = """
SELECT s.community_id, s.enabled, s.quiet_minutes, s.active_from, s.active_until, s.last_posted_at,
       s.last_topic_id, c.timezone, c.created_at AS community_created_at,
       greatest(
           (SELECT max(p.created_at) FROM posts p
            WHERE p.community_id = $1 AND p.author_id IS NOT NULL AND p.deleted_at IS NULL),
           (SELECT max(cm.created_at) FROM comments cm
            WHERE cm.community_id = $1 AND cm.author_id IS NOT NULL AND cm.deleted_at IS NULL)
       ) AS last_member_at
FROM warmup_settings s JOIN communities c ON c.id = s.community_id
WHERE s.community_id = $1
FOR UPDATE OF s SKIP LOCKED
"""

INSERT_ROBOT_POST = (
    "INSERT INTO posts (community_id, robot, kind, text) VALUES ($1, 'warmup', 'warmup', $2) RETURNING id"
)

MARK_POSTED = """
UPDATE warmup_settings SET last_topic_id = $2, last_posted_at = $3, last_post_id = $4 WHERE community_id = $1
"""

COUNT_USE = "UPDATE warmup_topics SET used_count = used_count + 1 WHERE id = $1"
