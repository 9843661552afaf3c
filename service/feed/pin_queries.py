"""The SQL of pinned notices (docs/search.md). $n parameters only."""

from __future__ import annotations

# Pins of a community change under its row lock, so two admins never pass the limit together.
LOCK_COMMUNITY = "SELECT id FROM communities WHERE id = $1 FOR UPDATE"

# Pins whose post is no longer visible (deleted, hidden, refused) free their place: no reader sees them.
DROP_STALE_PINS = """
DELETE FROM post_pins pp USING posts p
WHERE pp.community_id = $1 AND p.community_id = pp.community_id AND p.id = pp.post_id
  AND (p.deleted_at IS NOT NULL OR p.status <> 'visible')
"""

PINS = """
SELECT post_id::text AS post_id, pinned_by::text AS pinned_by, pinned_at FROM post_pins
WHERE community_id = $1 ORDER BY id
"""

# $1 community, $2 post, $3 admin; nothing when it is pinned already.
INSERT_PIN = """
INSERT INTO post_pins (community_id, post_id, pinned_by) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING  -- pinned already (no target: Citus widens that key)
RETURNING id
"""

DELETE_PIN = "DELETE FROM post_pins WHERE community_id = $1 AND post_id = $2 RETURNING id"
