"""The SQL of member profiles (docs/search.md). $n parameters only; the fragments are constant SQL."""

from __future__ import annotations

from service.core.access import standing_role, standing_status
from service.core.shown import member_shown
from service.core.speech import rolled_up_speech_by_member

# Member $2 of community $1 as reader $3 sees them (anyone who stands there as the access check reads it: the brand's
# team too, member or not, as admins; `joined_at` for one of them who is no member is since when they stand there, the
# later of their joining the team and the community's creation), with their contribution figures: essence posts (visible
# ones), and their counted check-ins in the community's activities (a void one, its post deleted or rejected,
# counts for nothing: migration 0046): count, points, longest streak and current streak, the best over
# activities. A current streak is the activities domain's: the streak at the latest opened occurrence, else,
# while that one is still open, the streak at the one before it.
PROFILE = f"""
SELECT u.id::text AS user_id, u.nickname, u.avatar_url, {standing_role()} AS role,
       CASE WHEN m.status = 'active' THEN m.joined_at ELSE greatest(b.added_at, c.created_at) END AS joined_at,
       CASE WHEN ip.deleted_at IS NULL AND ip.status = 'visible' THEN ip.text END AS introduction,
       (SELECT count(*) FROM posts p
        WHERE p.community_id = $1 AND p.author_id = $2 AND p.essence_at IS NOT NULL
          AND p.deleted_at IS NULL AND p.status = 'visible')::int AS essence_count,
       coalesce(ci.check_ins, 0) AS check_ins, coalesce(ci.points, 0) AS points,
       coalesce(ci.longest_streak, 0) AS longest_streak,
       (SELECT coalesce(max(coalesce(at_latest.streak, CASE WHEN o.still_open THEN at_before.streak END)), 0)
        FROM activities a
        CROSS JOIN LATERAL (
            SELECT (array_agg(l.id ORDER BY l.opens_at DESC))[1] AS latest,
                   (array_agg(l.id ORDER BY l.opens_at DESC))[2] AS before,
                   (array_agg(l.closes_at ORDER BY l.opens_at DESC))[1] > now() AS still_open
            FROM (SELECT id, opens_at, closes_at FROM activity_occurrences
                  WHERE activity_id = a.id AND community_id = $1 AND opens_at <= now() ORDER BY opens_at DESC LIMIT 2) l
        ) o
        LEFT JOIN check_ins at_latest ON at_latest.occurrence_id = o.latest AND at_latest.community_id = $1
            AND at_latest.user_id = $2 AND at_latest.voided_at IS NULL
        LEFT JOIN check_ins at_before ON at_before.occurrence_id = o.before AND at_before.community_id = $1
            AND at_before.user_id = $2 AND at_before.voided_at IS NULL
        WHERE a.community_id = $1) AS current_streak
FROM communities c
JOIN users u ON u.id = $2
LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $2
LEFT JOIN brand_admins b ON b.brand_id = c.brand_id AND b.user_id = $2
LEFT JOIN posts ip ON ip.id = m.introduction_post_id AND ip.community_id = m.community_id
LEFT JOIN LATERAL (
    SELECT count(*)::int AS check_ins, sum(points)::int AS points, max(streak) AS longest_streak
    FROM check_ins WHERE community_id = $1 AND user_id = $2 AND voided_at IS NULL
) ci ON true
WHERE c.id = $1 AND {standing_status()} = 'active' AND {member_shown("$2", "$3")}
"""  # noqa: S608

# The member's valid posts and comments since ever (the interactions domain's definition), from the speech roll-up:
# every day of it (any zone), less the member's repeats. $1 community, $2..$3 since ever, $4 the member.
VALID_SPEECH = rolled_up_speech_by_member(days="", author="AND author_id = $4")
