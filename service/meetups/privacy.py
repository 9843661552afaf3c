"""Meetups' part of account export (core/privacy.py): sign-ups. They stay under the tombstone's id (seats,
attendance and paid fees are the meetup's record)."""

from __future__ import annotations

from service.core.privacy import Privacy

_SIGNUPS = """
SELECT s.id::text AS id, s.meetup_id::text AS meetup_id, m.title AS meetup_title, s.status, s.created_at,
       s.attended_at
FROM meetup_signups s JOIN meetups m ON m.id = s.meetup_id AND m.community_id = s.community_id
WHERE s.user_id = $1 ORDER BY s.id
"""


PRIVACY = Privacy(exports={"meetup_signups": _SIGNUPS}, keeps=("meetups", "meetup_signups"))
