"""What counts as a member's valid speech, one definition for contribution scores (interactions) and member
profiles (communities): visible posts and comments of at least 5 characters or with a photo, the same words
said twice by one member counted once."""

from __future__ import annotations


def valid_speech_by_member(author: str = "") -> str:
    """Per member, their valid posts and comments in a window. $1 community, $2..$3 the window; ``author``
    narrows it (a constant SQL condition on `author_id`, e.g. "AND author_id = $4")."""
    return f"""
WITH speech AS (
    SELECT 'post' AS kind, author_id, created_at, coalesce(text, '') AS text,
           cardinality(image_urls) + cardinality(image_ids) AS images
    FROM posts
    WHERE community_id = $1 AND author_id IS NOT NULL AND created_at >= $2 AND created_at < $3
      AND status = 'visible' AND deleted_at IS NULL {author}
    UNION ALL
    SELECT 'comment', author_id, created_at, coalesce(text, ''), (image_id IS NOT NULL)::int
    FROM comments
    WHERE community_id = $1 AND author_id IS NOT NULL AND created_at >= $2 AND created_at < $3
      AND status = 'visible' AND deleted_at IS NULL {author}
), valid AS (
    SELECT DISTINCT ON (author_id, regexp_replace(lower(btrim(text)), '\\s+', ' ', 'g'), images) author_id, kind
    FROM speech
    WHERE char_length(btrim(text)) >= 5 OR images > 0
    ORDER BY author_id, regexp_replace(lower(btrim(text)), '\\s+', ' ', 'g'), images, created_at, kind
)
SELECT author_id AS user_id, count(*) FILTER (WHERE kind = 'post') AS valid_posts,
       count(*) FILTER (WHERE kind = 'comment') AS valid_comments
FROM valid GROUP BY author_id
"""  # noqa: S608
