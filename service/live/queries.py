"""SQL of live updates."""

from __future__ import annotations

from service.core.access import role_of

# The communities each of these members is an active member of (the events they follow).
MEMBERSHIPS = """
SELECT user_id, array_agg(community_id) AS communities FROM memberships
WHERE user_id = ANY($1::bigint[]) AND status = 'active' GROUP BY user_id
"""

# Of these (user, community) pairs, those where the user stands: an active member, or on the brand's team (what
# `view` checked with require_member).
STANDING = f"""
SELECT s.user_id, s.community_id FROM unnest($1::bigint[], $2::bigint[]) AS s(user_id, community_id)
WHERE {role_of("s.community_id", "s.user_id")} IS NOT NULL
"""  # noqa: S608

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
