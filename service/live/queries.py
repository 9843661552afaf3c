"""SQL of live updates."""

from __future__ import annotations

# The communities each of these members is an active member of (the events they follow).
MEMBERSHIPS = """
SELECT user_id, array_agg(community_id) AS communities FROM memberships
WHERE user_id = ANY($1::bigint[]) AND status = 'active' GROUP BY user_id
"""

# Who follows a post's comments: its author and everyone who commented on it, but not the new comment's author.
COMMENT_FOLLOWERS = """
SELECT author_id FROM posts WHERE id = $1 AND author_id IS NOT NULL AND author_id <> $2
UNION
SELECT author_id FROM comments WHERE post_id = $1 AND author_id IS NOT NULL AND author_id <> $2
    AND deleted_at IS NULL
"""
