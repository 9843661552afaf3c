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


# The speech roll-up (migration 0029, docs/metrics.md "Speech roll-up"): per community, local day (in the zone of
# speech_zone) and author, the rows written and the basic-valid ones (visible, by a member, >= 5 characters or an
# image), kept by triggers. Only rows flagged `speech_repeat` share their text and images with another row of their
# author, so the repeats of a window are found among them alone: every flagged basic-valid row of the window but the
# first of its author's identical ones (the same comparison and order as the definition). $1 community, $2..$3 the
# window; ``author`` narrows it as in valid_speech_by_member().
def repeats_in_window(author: str = "") -> str:
    return f"""
SELECT kind, author_id, created_at FROM (
    SELECT kind, author_id, created_at,
           row_number() OVER (
               PARTITION BY author_id, regexp_replace(lower(btrim(text)), '\\s+', ' ', 'g'), images
               ORDER BY created_at, kind
           ) AS n
    FROM (
        SELECT 'post' AS kind, author_id, created_at, text,
               cardinality(image_urls) + cardinality(image_ids) AS images
        FROM posts
        WHERE community_id = $1 AND speech_repeat AND created_at >= $2 AND created_at < $3
          AND author_id IS NOT NULL AND status = 'visible' AND deleted_at IS NULL {author}
        UNION ALL
        SELECT 'comment', author_id, created_at, text, (image_id IS NOT NULL)::int
        FROM comments
        WHERE community_id = $1 AND speech_repeat AND created_at >= $2 AND created_at < $3
          AND author_id IS NOT NULL AND status = 'visible' AND deleted_at IS NULL {author}
    ) flagged
    WHERE char_length(btrim(text)) >= 5 OR images > 0
) ranked
WHERE n > 1
"""  # noqa: S608


REPEATS_IN_WINDOW = repeats_in_window()

# The days of a window of local days: $2..$3 local midnights in $4, the roll-up's zone.
WINDOW_DAYS = "AND day >= ($2 AT TIME ZONE $4)::date AND day < ($3 AT TIME ZONE $4)::date"


def rolled_up_speech_by_member(days: str = WINDOW_DAYS, author: str = "") -> str:
    """valid_speech_by_member() over the roll-up: the basic-valid rows of the window less its repeats, the same
    rows out (members with at least one valid row). $1 community, $2..$3 the window; ``days`` the matching condition
    on the roll-up's days (none: every day, for a window since ever); ``author`` as in valid_speech_by_member()."""
    return f"""
WITH days AS (
    SELECT author_id, sum(valid_posts) AS valid_posts, sum(valid_comments) AS valid_comments
    FROM speech_days
    WHERE community_id = $1 {days} {author}
    GROUP BY author_id
), repeats AS (
    SELECT author_id, count(*) FILTER (WHERE kind = 'post') AS posts,
           count(*) FILTER (WHERE kind = 'comment') AS comments
    FROM ({repeats_in_window(author)}) r
    GROUP BY author_id
), judged AS (
    SELECT author_id, (h.valid_posts - coalesce(r.posts, 0))::bigint AS valid_posts,
           (h.valid_comments - coalesce(r.comments, 0))::bigint AS valid_comments
    FROM days h LEFT JOIN repeats r USING (author_id)
)
SELECT author_id AS user_id, valid_posts, valid_comments FROM judged WHERE valid_posts + valid_comments > 0
"""  # noqa: S608


ROLLED_UP_SPEECH_BY_MEMBER = rolled_up_speech_by_member()
