"""The SQL of referrals' leaderboard and invite posters (growth.py): $n parameters only. Ids leave as text."""

from __future__ import annotations

# Credited referrals per referrer, both still members: a departed or refunded member counts for nobody.
_RANKED = """
WITH counted AS (
    SELECT r.referrer_id, count(*)::int AS referrals
    FROM referrals r
    JOIN memberships d ON d.community_id = r.community_id AND d.user_id = r.referred_id AND d.status = 'active'
    JOIN memberships s ON s.community_id = r.community_id AND s.user_id = r.referrer_id AND s.status = 'active'
    WHERE r.community_id = $1
    GROUP BY r.referrer_id
), ranked AS (
    SELECT referrer_id, referrals, rank() OVER (ORDER BY referrals DESC)::int AS rank FROM counted
)
SELECT k.rank, k.referrer_id::text AS user_id, u.nickname, u.avatar_url, k.referrals
FROM ranked k JOIN users u ON u.id = k.referrer_id
"""
REFERRAL_LEADERS = _RANKED + "ORDER BY k.rank, k.referrer_id LIMIT $2"
MY_REFERRALS = _RANKED + "WHERE k.referrer_id = $2"

POSTER = "SELECT storage_key FROM invite_posters WHERE community_id = $1 AND scene = $2"
SAVE_POSTER = """
INSERT INTO invite_posters (community_id, scene, storage_key) VALUES ($1, $2, $3)
ON CONFLICT (community_id, scene) DO UPDATE SET storage_key = excluded.storage_key, created_at = excluded.created_at
"""
