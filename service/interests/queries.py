"""The SQL of members' interests: $n parameters only. Weights decay with a half-life of $h seconds: a weight w kept
as of t is worth w * 2^(-(now - t) / h) now."""

from __future__ import annotations


def decayed(row: str, at: str = "now()", half_life: str = "$h") -> str:
    """The weight of `row` (a member_interests row) as of ``at``."""
    return f"({row}.weight * power(2::double precision, -extract(epoch FROM {at} - {row}.weighed_at) / {half_life}))"


ENSURE_PROGRESS = "INSERT INTO interest_progress (source) VALUES ($1) ON CONFLICT (source) DO NOTHING"
# One worker reads a source at a time; another skips it. `horizon_done`: every writer of the horizon has ended.
LOCK_PROGRESS = """
SELECT p.last_id, p.final_id, p.horizon_id, p.horizon_writers,
       NOT EXISTS (SELECT FROM pg_locks l WHERE l.virtualtransaction = ANY(p.horizon_writers)) AS horizon_done
FROM interest_progress p WHERE p.source = $1 FOR UPDATE SKIP LOCKED
"""
SET_PROGRESS = """
UPDATE interest_progress SET last_id = $2, final_id = $3, horizon_id = $4, horizon_writers = $5, updated_at = now()
WHERE source = $1
"""


def _horizon(table: str) -> str:
    """A source's highest id and the transactions writing to its table now (an INSERT locks the table before it
    takes its id, until it ends): a row still unseen under that id can only come from one of them."""
    return f"""
SELECT coalesce(max(id), 0) AS id,
       ARRAY(SELECT l.virtualtransaction FROM pg_locks l
             WHERE l.locktype = 'relation' AND l.relation = '{table}'::regclass AND l.mode = 'RowExclusiveLock'
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS writers
FROM {table}
"""  # noqa: S608 - a constant table name


HORIZONS = {"posts": _horizon("posts"), "comments": _horizon("comments"), "proposals": _horizon("poll_proposals")}

# Each source as (id, community_id, user_id, text, created_at, state, is_post) after id $1 up to the final id $4:
# state 'count', 'skip' or 'wait' (held for review and recent: the cursor stops before it until WeChat decided, at
# most $3). Hidden by people (reports, moderators) is `pending` too but waits for no verdict due soon: skipped, so
# reporting posts cannot stop the reading. A hidden post has `hidden_at`; a hidden comment was visible, hence
# counted (comments are not edited: one held for WeChat was never counted).
_STATE = """CASE WHEN {deleted} THEN 'skip' WHEN {counted} THEN 'count'
                 WHEN {held} AND {created} > now() - $3::interval THEN 'wait' ELSE 'skip' END"""
SOURCES = {
    "posts": f"""
SELECT p.id, p.community_id, p.author_id AS user_id, p.text, p.created_at, true AS is_post,
       {
        _STATE.format(
            deleted="p.deleted_at IS NOT NULL",
            counted="p.status = 'visible'",
            held="p.status = 'pending' AND p.hidden_at IS NULL",
            created="p.created_at",
        )
    } AS state
FROM posts p WHERE p.id > $1 AND p.id <= $4 AND p.author_id IS NOT NULL ORDER BY p.id LIMIT $2
""",  # noqa: S608
    "comments": f"""
SELECT c.id, c.community_id, c.author_id AS user_id, c.text, c.created_at, false AS is_post,
       {
        _STATE.format(
            deleted="c.deleted_at IS NOT NULL",
            counted="c.status = 'visible'",
            held="c.status = 'pending' AND c.counted_at IS NULL",
            created="c.created_at",
        )
    } AS state
FROM comments c WHERE c.id > $1 AND c.id <= $4 AND c.author_id IS NOT NULL ORDER BY c.id LIMIT $2
""",  # noqa: S608
    "proposals": f"""
SELECT pp.id, pp.community_id, pp.proposer_id AS user_id, pp.name AS text, pp.created_at, false AS is_post,
       {
        _STATE.format(
            deleted="false",
            counted="pp.status IN ('visible', 'merged')",
            held="pp.status = 'pending'",
            created="pp.created_at",
        )
    } AS state
FROM poll_proposals pp WHERE pp.id > $1 AND pp.id <= $4 ORDER BY pp.id LIMIT $2
""",  # noqa: S608
}

# Weights of one batch, summed per (community, member, tag) as of `at` beforehand: the stored weight and the new
# one are both carried to the later of their two times and added.
ADD_WEIGHTS = """
INSERT INTO member_interests AS mi (community_id, user_id, tag, weight, weighed_at)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::double precision[], $5::timestamptz[])
ON CONFLICT (community_id, user_id, tag) DO UPDATE SET
    weight = mi.weight * power(2::double precision,
                               -extract(epoch FROM greatest(mi.weighed_at, excluded.weighed_at) - mi.weighed_at) / $6)
           + excluded.weight * power(2::double precision,
                                     -extract(epoch FROM greatest(mi.weighed_at, excluded.weighed_at)
                                                         - excluded.weighed_at) / $6),
    weighed_at = greatest(mi.weighed_at, excluded.weighed_at)
"""

ADD_POST_TAGS = """
INSERT INTO post_tags (community_id, post_id, tag)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])
ON CONFLICT ON CONSTRAINT post_tags_pkey DO NOTHING  -- by name: on Citus the key gains community_id
"""

# Keep each touched member's top $3 tags, and none whose weight fell under $4. $1 communities, $2 members (pairs).
PRUNE_MEMBERS = f"""
DELETE FROM member_interests d USING (
    SELECT mi.community_id, mi.user_id, mi.tag,
           row_number() OVER (PARTITION BY mi.community_id, mi.user_id
                              ORDER BY {decayed("mi", half_life="$5")} DESC, mi.tag) AS r,
           {decayed("mi", half_life="$5")} AS w
    FROM member_interests mi
    JOIN unnest($1::bigint[], $2::bigint[]) AS t (community_id, user_id)
      ON t.community_id = mi.community_id AND t.user_id = mi.user_id
) ranked
WHERE d.community_id = ranked.community_id AND d.user_id = ranked.user_id AND d.tag = ranked.tag
  AND (ranked.r > $3 OR ranked.w < $4)
"""  # noqa: S608

# A community's top $2 tags over its active members' tags: by how many members carry it, then the summed weight.
CLEAR_COMMUNITIES = "DELETE FROM community_interests WHERE community_id = ANY($1::bigint[])"
COMPUTE_COMMUNITIES = f"""
INSERT INTO community_interests (community_id, tag, weight, members, computed_at)
SELECT community_id, tag, weight, members, now() FROM (
    SELECT g.*, row_number() OVER (PARTITION BY g.community_id ORDER BY g.members DESC, g.weight DESC, g.tag) AS r
    FROM (
        SELECT mi.community_id, mi.tag, sum({decayed("mi", half_life="$3")}) AS weight, count(*)::int AS members
        FROM member_interests mi
        JOIN memberships m ON m.community_id = mi.community_id AND m.user_id = mi.user_id AND m.status = 'active'
        WHERE mi.community_id = ANY($1::bigint[])
        GROUP BY mi.community_id, mi.tag
    ) g
) ranked
WHERE r <= $2
ON CONFLICT (community_id, tag) DO UPDATE
SET weight = excluded.weight, members = excluded.members, computed_at = excluded.computed_at
"""  # noqa: S608

MEMBER_TAGS = f"""
SELECT mi.tag, {decayed("mi", half_life="$3")} AS weight, mi.weighed_at
FROM member_interests mi
WHERE mi.community_id = $1 AND mi.user_id = $2
ORDER BY 2 DESC, mi.tag
LIMIT $4
"""  # noqa: S608

COMMUNITY_TAGS = """
SELECT tag, weight, members, computed_at FROM community_interests
WHERE community_id = $1 ORDER BY members DESC, weight DESC, tag LIMIT $2
"""

PREFERENCES = "SELECT introductions, updated_at FROM interest_preferences WHERE user_id = $1"
SET_PREFERENCES = """
INSERT INTO interest_preferences (user_id, introductions, updated_at) VALUES ($1, $2, now())
ON CONFLICT (user_id) DO UPDATE SET introductions = excluded.introductions, updated_at = excluded.updated_at
RETURNING introductions, updated_at
"""
