"""A member's "for you" page: the community's hot order, with posts on the member's interests lifted.

    rank = hot_rank + BOOST x match

`hot_rank` is the hot order's stored score (docs/feed.md: log2 of engagement plus age in days), so BOOST = 1 lifts
a post like one day of freshness, or twice the engagement. `match` (0-1) sums, over the post's tags (its keywords,
kept by the interests job: service/interests), the reader's affinity to each: their weight for the tag over the
weight of their strongest tag (top MY_TAGS tags), capped at 1. Only other members' posts of the last WINDOW are
lifted; the reader's own posts and older ones keep their hot score. A member without interests gets the hot order
(pinned notices in their place, not first as in the feed).

Ratios of weights are taken in log space from the stored rows (ln w + t ln 2 / half-life), not as of now(): the
same rows give the same ranks on every page, so the keyset cursor (rank, id) never repeats or skips a post while
the job leaves the reader's tags alone. Blocked members' posts are left out as in the feed (_SEEN_BY). A page reads
the hot index from the cursor down to BOOST under the (limit + 1)-th post there (below _BELOW), computing each
post's match from its few tags: a band about one day of posts deep, whatever the community's size.
"""

from __future__ import annotations

import asyncpg
from litestar import Response

from service.feed.page_queries import _SEEN_BY, _STANDING, _page
from service.feed.reading import _cursor, _require_standing
from service.feed.reading import _page as page_answer

BOOST = 1.0
MY_TAGS = 20
WINDOW_DAYS = 30
HALF_LIFE_SECONDS = 30 * 86400  # service/interests/extraction.py HALF_LIFE

_SEEN = _SEEN_BY.format(me="$2")

# A post's match (0-1) for the reader: 0 for their own posts and those older than the window.
# (least() ignores a NULL: the sum over no tag must be 0 first.)
_MATCH = f"""(
        SELECT round(least(1, coalesce(sum(a.affinity), 0))::numeric, 6)::double precision
        FROM post_tags pt JOIN affinity a ON a.tag = pt.tag
        WHERE pt.post_id = p.id AND pt.community_id = p.community_id AND p.author_id IS DISTINCT FROM $2
          AND p.created_at > now() - interval '{WINDOW_DAYS} days')"""  # noqa: S608

# A post's rank is never below its hot_rank, so every post of the page lies below the cursor in the hot order too
# (an index range), and no post whose hot_rank is BOOST under the n+1-th post of the hot order that ranks below the
# cursor can make the page: the page is read from that band of the hot index, not from the whole community.
_BELOW = "($3::double precision IS NULL OR (p.hot_rank, p.id) < ($3, $4))"
_RANKED_BELOW = f"($3::double precision IS NULL OR (p.hot_rank + {BOOST} * {_MATCH}, p.id) < ($3, $4))"

# $1 community, $2 me, $3/$4 the cursor (rank, id), $5 limit.
_SOURCE = f"""
        SELECT p.*, row_number() OVER (ORDER BY p.for_you_rank DESC, p.id DESC) AS n FROM (
            SELECT p.* FROM (
                SELECT p.*, p.hot_rank + {BOOST} * {_MATCH} AS for_you_rank FROM posts p
                WHERE p.community_id = $1 AND {_SEEN} AND {_BELOW}
                  AND p.hot_rank >= coalesce((SELECT floor FROM band), '-Infinity'::double precision)
            ) p
            WHERE EXISTS (SELECT FROM standing WHERE status = 'active')
              AND ($3::double precision IS NULL OR (p.for_you_rank, p.id) < ($3, $4))
            ORDER BY p.for_you_rank DESC, p.id DESC
            LIMIT $5 + 1
        ) p"""  # noqa: S608

FOR_YOU = f"""WITH {_STANDING},
mine AS (
    SELECT mi.tag, ln(mi.weight) + extract(epoch FROM mi.weighed_at) * ln(2) / {HALF_LIFE_SECONDS} AS score
    FROM member_interests mi
    WHERE mi.community_id = $1 AND mi.user_id = $2 AND mi.weight > 0
    ORDER BY 2 DESC LIMIT {MY_TAGS}
),
affinity AS (SELECT tag, exp(score - max(score) OVER ()) AS affinity FROM mine),
hot AS (
    SELECT p.hot_rank FROM posts p
    WHERE p.community_id = $1 AND {_SEEN} AND {_BELOW} AND {_RANKED_BELOW}
    ORDER BY p.hot_rank DESC, p.id DESC
    LIMIT $5 + 1
),
band AS (SELECT CASE WHEN count(*) > $5 THEN min(hot_rank) - {BOOST} END AS floor FROM hot),
{_page(_SOURCE, "$2", "$5", "$1")},
       (SELECT for_you_rank FROM page WHERE n = $5) AS last_rank,
       (SELECT status FROM standing) AS standing,
       EXISTS (SELECT FROM standing) AS found
"""  # noqa: S608


async def for_you(
    pool: asyncpg.Pool, community_id: int, user_id: int, limit: int, cursor: str | None
) -> Response[bytes]:
    row = await pool.fetchrow(FOR_YOU, community_id, user_id, *_cursor(cursor, "foryou", float), limit)
    _require_standing(row)
    return page_answer(row, limit, lambda r: ("foryou", r["last_rank"], r["last_id"]))
