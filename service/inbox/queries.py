"""SQL of the inbox. Ids leave as text."""

from __future__ import annotations

from service.core.inbox import UNREAD  # noqa: F401  (the badge, counted alike when an item is delivered)

PAGE = """
SELECT i.id::text AS id, i.kind, i.community_id::text AS community_id, i.subject_type,
       i.subject_id::text AS subject_id,
       CASE WHEN u.id IS NULL THEN NULL
            ELSE json_build_object('id', u.id::text, 'nickname', u.nickname, 'avatarUrl', u.avatar_url) END AS actor,
       i.count, i.data, i.read_at IS NOT NULL AS read, i.created_at, i.id AS sort_id
FROM inbox_items i LEFT JOIN users u ON u.id = i.actor_id
WHERE i.user_id = $1 AND ($2::bigint IS NULL OR i.id < $2)
ORDER BY i.id DESC LIMIT $3
"""

# Catching up: items newer than $2, oldest first (the same columns as PAGE).
SINCE = PAGE.replace("($2::bigint IS NULL OR i.id < $2)", "i.id > $2").replace("ORDER BY i.id DESC", "ORDER BY i.id")

MARK_UP_TO = "UPDATE inbox_items SET read_at = now() WHERE user_id = $1 AND id <= $2 AND read_at IS NULL"
MARK_IDS = "UPDATE inbox_items SET read_at = now() WHERE user_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL"

# In batches of PURGE_BATCH, each through its partial index (inbox_items_read, inbox_items_unread_age).
PURGE_BATCH = 5000
PURGE_READ = f"""
DELETE FROM inbox_items WHERE id IN (
    SELECT id FROM inbox_items WHERE read_at < now() - make_interval(days => $1) LIMIT {PURGE_BATCH}
)
"""  # noqa: S608
PURGE_UNREAD = f"""
DELETE FROM inbox_items WHERE id IN (
    SELECT id FROM inbox_items WHERE read_at IS NULL AND created_at < now() - make_interval(days => $1)
    LIMIT {PURGE_BATCH}
)
"""  # noqa: S608
