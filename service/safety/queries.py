"""SQL of blocks. Ids leave as text."""

from __future__ import annotations

# The blocker's row, locked: one member's blocks are counted and added one at a time (MAX_BLOCKS holds).
LOCK_USER = "SELECT id FROM users WHERE id = $1 FOR UPDATE"
USER_EXISTS = "SELECT EXISTS (SELECT FROM users WHERE id = $1)"
COUNT = "SELECT count(*) FROM member_blocks WHERE blocker_id = $1"

INSERT = """
INSERT INTO member_blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT (blocker_id, blocked_id) DO NOTHING
"""
DELETE = "DELETE FROM member_blocks WHERE blocker_id = $1 AND blocked_id = $2"

_BLOCK = """
SELECT b.blocked_id::text AS user_id, u.nickname, u.avatar_url, b.created_at AS blocked_at, b.blocked_id AS sort_id
FROM member_blocks b JOIN users u ON u.id = b.blocked_id
"""
ONE = _BLOCK + "WHERE b.blocker_id = $1 AND b.blocked_id = $2"

# Newest first; cursor (blocked_at, blocked id).
PAGE = (
    _BLOCK
    + """WHERE b.blocker_id = $1 AND ($2::timestamptz IS NULL OR (b.created_at, b.blocked_id) < ($2, $3))
ORDER BY b.created_at DESC, b.blocked_id DESC
LIMIT $4
"""
)
