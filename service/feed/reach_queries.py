"""The SQL of the groups a share reached (reach.py): $n parameters only. Ids leave as text."""

from __future__ import annotations

# The share behind a code as its public preview sees it: only a visible, undeleted post's share (else a 404).
OPEN_SHARE = """
SELECT s.id, s.community_id
FROM post_shares s JOIN posts p ON p.id = s.post_id AND p.community_id = s.community_id
WHERE s.code = $1 AND p.status = 'visible' AND p.deleted_at IS NULL
ORDER BY s.id LIMIT 1
"""

# One row per share and group: the first open inserts it, every later one counts. now() only as the inserted
# row's (Citus takes no now() in DO UPDATE SET).
RECORD_OPEN = """
INSERT INTO share_group_opens AS g (community_id, share_id, group_digest) VALUES ($1, $2, $3)
ON CONFLICT (community_id, share_id, group_digest) DO UPDATE
SET open_count = g.open_count + 1, last_opened_at = EXCLUDED.last_opened_at
RETURNING open_count, first_opened_at
"""

REACH = """
SELECT count(DISTINCT group_digest)::int AS groups_reached, coalesce(sum(open_count), 0)::bigint AS opens,
       count(DISTINCT share_id)::int AS shares_opened
FROM share_group_opens WHERE community_id = $1
"""

REACH_BY_SHARE = """
SELECT s.code, s.post_id::text AS post_id, s.user_id::text AS sharer_id, coalesce(u.nickname, '') AS sharer_nickname,
       count(*)::int AS groups_reached, sum(g.open_count)::bigint AS opens,
       min(g.first_opened_at) AS first_opened_at, max(g.last_opened_at) AS last_opened_at
FROM share_group_opens g
JOIN post_shares s ON s.id = g.share_id AND s.community_id = g.community_id
LEFT JOIN users u ON u.id = s.user_id
WHERE g.community_id = $1
GROUP BY s.id, s.code, s.post_id, s.user_id, u.nickname
ORDER BY groups_reached DESC, opens DESC, s.id
LIMIT $2
"""
