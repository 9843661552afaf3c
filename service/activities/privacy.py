"""Activities' part of account export (core/privacy.py): check-ins. They stay under the tombstone's id (streaks and
points are the activity's record); activities an admin created stay."""

from __future__ import annotations

from service.core.privacy import Privacy

_CHECK_INS = """
SELECT id::text AS id, activity_id::text AS activity_id, community_id::text AS community_id,
       post_id::text AS post_id, points, streak, created_at
FROM check_ins c WHERE user_id = $1 ORDER BY c.id  -- the number (a bare `id` is the text column above)
"""


PRIVACY = Privacy(exports={"check_ins": _CHECK_INS}, keeps=("activities", "check_ins"))
