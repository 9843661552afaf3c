"""The SQL of search in a community (docs/search.md). $n parameters only; fragments are constant SQL."""

from __future__ import annotations

from service.core.shown import author_shown

_SHOWN_POST = "p.deleted_at IS NULL AND p.status = 'visible'"
# A reply shows only in its thread: one deleted, held or removed takes its replies out of the post's comments
# (reading.list_comments), and out of search too; so does one by a member reader $3 blocked, for that reader.
_SHOWN_THREAD = f"""(c.parent_id IS NULL OR EXISTS (
        SELECT FROM comments t
        WHERE t.community_id = $1 AND t.id = c.parent_id AND t.deleted_at IS NULL AND t.status = 'visible'
          AND {author_shown("t", "$3")}))"""  # noqa: S608

# Ranking reads every candidate's terms: a common word (one post in six) would rank tens of thousands. So the
# newest CANDIDATES matching posts and as many comments are ranked (the recent-first indexes find them
# without reading older ones); older hits need more words.
CANDIDATES = 1000
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"

# Posts and comments of community $1 matching tsquery $2 that reader $3 may see (visible, not deleted, by
# a robot or a member the reader did not block; a comment also needs its post visible, a reply its thread), ranked, best
# first: keyset (rank, kind, id) < ($4, $5, $6), $7 rows. ts_rank is real (float4): the cursor gives it back
# exactly, and it is compared as float8 (exact for every real; a forged rank past float4's range is no error then).
SEARCH = f"""
WITH post_hits AS (
    SELECT 'post' AS kind, p.id, p.id AS post_id, p.author_id, p.robot, p.text, p.created_at, p.search_terms,
           p.community_id
    FROM posts p
    WHERE p.community_id = $1 AND p.search_terms @@ $2::tsquery AND {_SHOWN_POST}
    ORDER BY p.created_at DESC, p.id DESC
    LIMIT {CANDIDATES}
), comment_hits AS (
    SELECT 'comment' AS kind, c.id, c.post_id, c.author_id, c.robot, c.text, c.created_at, c.search_terms,
           c.community_id
    FROM comments c JOIN posts p ON p.community_id = c.community_id AND p.id = c.post_id
    WHERE c.community_id = $1 AND c.search_terms @@ $2::tsquery AND c.deleted_at IS NULL
      AND c.status = 'visible' AND {_SHOWN_POST} AND {_SHOWN_THREAD} AND {author_shown("p", "$3")}
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT {CANDIDATES}
), hits AS (
    SELECT h.*, ts_rank(h.search_terms, $2::tsquery) AS rank
    FROM (SELECT * FROM post_hits UNION ALL SELECT * FROM comment_hits) h
    -- Whose writing the reader sees, on the candidates: in the scans above the planner would count on it to
    -- thin the newest matches and read every match instead of walking the recent-first index.
    WHERE {author_shown("h", "$3")}
)
SELECT h.kind, h.id, h.post_id, h.author_id, h.text, h.created_at, h.rank,
       coalesce(u.nickname, r.nickname, h.robot) AS nickname, coalesce(u.avatar_url, r.avatar_url, '') AS avatar_url
FROM hits h
LEFT JOIN users u ON u.id = h.author_id
LEFT JOIN robots r ON r.name = h.robot
WHERE $4::float8 IS NULL OR (h.rank, h.kind, h.id) < ($4::float8, $5::text, $6::bigint)
ORDER BY h.rank DESC, h.kind DESC, h.id DESC
LIMIT $7
"""  # noqa: S608
