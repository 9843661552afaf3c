"""SQL of live updates."""

from __future__ import annotations

from service.core.access import role_of

# The communities each of these members is an active member of (the events they follow).
MEMBERSHIPS = """
SELECT user_id, array_agg(community_id) AS communities FROM memberships
WHERE user_id = ANY($1::bigint[]) AND status = 'active' GROUP BY user_id
"""

# Whom each of these members blocked: their posts and comments are no news to them (core/blocks.py).
BLOCKED = """
SELECT blocker_id AS user_id, array_agg(blocked_id) AS blocked FROM member_blocks
WHERE blocker_id = ANY($1::bigint[]) GROUP BY blocker_id
"""

# Of these users ($2), those who stand in community $1: an active member, or on the brand's team (what `view`
# checked with require_member). One community a statement: Citus routes each to its shard (a list of pairs
# needed a correlated subquery beside unnest, which it refuses).
STANDING = """
SELECT m.user_id FROM memberships m
WHERE m.community_id = $1 AND m.user_id = ANY($2::bigint[]) AND m.status = 'active'
UNION
SELECT a.user_id FROM communities c JOIN brand_admins a ON a.brand_id = c.brand_id
WHERE c.id = $1 AND a.user_id = ANY($2::bigint[])
"""

# Who follows a post's comments: its author and everyone who commented on it, but not the new comment's author,
# and only while they stand in the post's community ($3): one removed or gone stops hearing of them.
COMMENT_FOLLOWERS = f"""
SELECT f.author_id FROM (
    SELECT author_id FROM posts WHERE id = $1 AND author_id IS NOT NULL AND author_id <> $2
    UNION
    SELECT author_id FROM comments WHERE post_id = $1 AND author_id IS NOT NULL AND author_id <> $2
        AND deleted_at IS NULL
) f
WHERE {role_of("$3", "f.author_id")} IS NOT NULL
"""  # noqa: S608
