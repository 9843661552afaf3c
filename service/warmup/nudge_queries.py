"""The SQL of the warm-up robot's introductions and topic prompts (nudges.py): $n parameters only.

Weights are those of member_interests as of now, with the interests' half-life (service/interests/extraction.py;
the domains share tables, not code)."""

from __future__ import annotations

from service.core.apps import app_active
from service.core.blocks import apart

HALF_LIFE_SECONDS = 30 * 86400
_WEIGHT = f"(mi.weight * power(2::double precision, -extract(epoch FROM now() - mi.weighed_at) / {HALF_LIFE_SECONDS}))"

# Communities where the warm-up robot is on (its app too), with their hours: the robot speaks only within them.
CANDIDATES = f"""
SELECT s.community_id, s.active_from, s.active_until, c.timezone
FROM warmup_settings s JOIN communities c ON c.id = s.community_id
WHERE s.enabled AND {app_active("s.community_id", "'warmup'")}
ORDER BY s.community_id
"""  # noqa: S608 - a constant expression
# One worker nudges a community at a time (the warm-up post takes the same row lock and skips it meanwhile).
LOCK = "SELECT community_id FROM warmup_settings WHERE community_id = $1 FOR UPDATE SKIP LOCKED"

# Nudges of a kind in the community over the last day (its cap).
SENT_TODAY = """
SELECT count(*) FROM warmup_nudges
WHERE community_id = $1 AND kind = $2 AND created_at > now() - interval '1 day'
"""

# Active members who accept nudges and had none (anywhere) in the last $2; not one an admin muted, who may not
# write in the community: the robot would nudge them to speak, or introduce them, for nothing; nor one whose
# account's deletion is under way (its cooling-off): no one is told to meet an account about to be erased.
_ELIGIBLE = """
SELECT m.user_id FROM memberships m
WHERE m.community_id = $1 AND m.status = 'active' AND (m.muted_until IS NULL OR m.muted_until <= now())
  AND NOT EXISTS (SELECT FROM interest_preferences ip WHERE ip.user_id = m.user_id AND NOT ip.introductions)
  AND NOT EXISTS (SELECT FROM account_deletions d WHERE d.user_id = m.user_id AND d.completed_at IS NULL)
  AND NOT EXISTS (SELECT FROM warmup_nudges n WHERE n.user_id = m.user_id AND n.created_at > now() - $2::interval)
"""

# Pairs of eligible members sharing a tag both weigh at least $3, never introduced to each other, neither having
# blocked the other; the $4 strongest members per tag only (a popular tag would make pairs by the million).
# Strongest pairs first.
PAIRS = f"""
WITH eligible AS ({_ELIGIBLE}),
tags AS (
    SELECT mi.user_id, mi.tag, {_WEIGHT} AS weight FROM member_interests mi JOIN eligible e ON e.user_id = mi.user_id
    WHERE mi.community_id = $1
),
ranked AS (
    SELECT t.*, row_number() OVER (PARTITION BY t.tag ORDER BY t.weight DESC, t.user_id) AS r
    FROM tags t WHERE t.weight >= $3
)
SELECT one.user_id AS first_id, two.user_id AS second_id, one.tag, one.weight + two.weight AS strength
FROM ranked one JOIN ranked two ON two.tag = one.tag AND two.user_id > one.user_id
WHERE one.r <= $4 AND two.r <= $4
  AND {apart("one.user_id", "two.user_id")}
  AND NOT EXISTS (SELECT FROM warmup_nudges n
                  WHERE n.kind = 'introduction' AND n.user_id = one.user_id AND n.other_id = two.user_id)
ORDER BY strength DESC, one.tag, one.user_id, two.user_id
LIMIT 200
"""  # noqa: S608

# Silent eligible members (no post nor comment in the community for $3) with their strongest tag (at least $4), and
# the hottest recent visible post on it by someone else that neither blocked; strongest first, $5 at most.
SILENT = f"""
WITH eligible AS ({_ELIGIBLE})
SELECT e.user_id, top.tag, top.weight, topic.id AS post_id
FROM eligible e
CROSS JOIN LATERAL (
    SELECT mi.tag, {_WEIGHT} AS weight FROM member_interests mi
    WHERE mi.community_id = $1 AND mi.user_id = e.user_id ORDER BY 2 DESC, mi.tag LIMIT 1
) top
LEFT JOIN LATERAL (
    SELECT p.id FROM post_tags pt JOIN posts p ON p.id = pt.post_id AND p.community_id = pt.community_id
    WHERE pt.community_id = $1 AND pt.tag = top.tag AND p.status = 'visible' AND p.deleted_at IS NULL
      AND p.author_id IS DISTINCT FROM e.user_id AND p.created_at > now() - $3::interval * 2
      AND (p.author_id IS NULL OR {apart("e.user_id", "p.author_id")})
    ORDER BY p.hot_rank DESC, p.id DESC LIMIT 1
) topic ON true
WHERE top.weight >= $4
  AND NOT EXISTS (SELECT FROM posts p WHERE p.community_id = $1 AND p.author_id = e.user_id
                  AND p.created_at > now() - $3::interval)
  AND NOT EXISTS (SELECT FROM comments c WHERE c.community_id = $1 AND c.author_id = e.user_id
                  AND c.created_at > now() - $3::interval)
ORDER BY top.weight DESC, e.user_id
LIMIT $5
"""  # noqa: S608

RECORD = """
INSERT INTO warmup_nudges (community_id, user_id, other_id, kind, tag, post_id) VALUES ($1, $2, $3, $4, $5, $6)
"""
