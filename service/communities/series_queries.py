"""The SQL of sister communities (series.py, docs/brands.md): $n parameters only."""

from __future__ import annotations

# The series of a community, locked: every admission to a series takes it before any community's lock.
LOCK_SERIES_OF = """
SELECT s.id, s.name, s.template_id FROM community_series s
WHERE s.id = (SELECT series_id FROM communities WHERE id = $1)
FOR UPDATE
"""

SERIES_OF = "SELECT series_id FROM communities WHERE id = $1"

# A join request holds the series row in key-share mode: an admission (which holds it for update) either committed
# before the request looks for a sister membership, or finds the request when it cancels the series' pending ones.
KEY_SHARE_SERIES_OF = """
SELECT s.id FROM community_series s WHERE s.id = (SELECT series_id FROM communities WHERE id = $1) FOR KEY SHARE
"""

# Where a plain member of the series already is (staff may hold roles in several sisters).
SERIES_HOME = """
SELECT c.id FROM communities c JOIN memberships m ON m.community_id = c.id
WHERE c.series_id = $1 AND m.user_id = $2 AND m.status = 'active' AND m.role = 'member'
LIMIT 1
"""

SERIES_COMMUNITIES = "SELECT array_agg(id ORDER BY id) FROM communities WHERE series_id = $1"

# An admission to a series settles the newcomer's pending requests to every sister ($1, their ids): a plain member
# of one sister can be in no other, so approving one would only answer already_in_series.
CANCEL_PENDING_REQUESTS_AMONG = """
UPDATE join_requests SET status = 'cancelled', decided_at = now()
WHERE community_id = ANY($1::bigint[]) AND user_id = $2 AND status = 'pending'
"""

# The asked community if it has room, else the first sister with room; never one that removed the member ($3):
# only that sister's own approval lets them back there.
SISTER_WITH_ROOM = """
SELECT c.id FROM communities c
LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $3
WHERE c.series_id = $1 AND c.member_count < c.member_cap AND m.status IS DISTINCT FROM 'removed'
ORDER BY c.id = $2 DESC, c.series_number
LIMIT 1
"""

NEXT_SISTER_NUMBER = "UPDATE community_series SET sisters = sisters + 1 WHERE id = $1 RETURNING sisters"

# A new sister: the template's settings under a numbered name, the template's owner as its first member.
OPEN_SISTER = """
INSERT INTO communities (owner_id, name, description, cover_url, tags, visibility, entry_mode, price_fen,
                         member_cap, member_count, welcome_template, introduction_required, introduction_prompt,
                         refund_window_hours, collections_by, brand_id, series_id, series_number)
SELECT owner_id, $2, description, cover_url, tags, visibility, entry_mode, price_fen, member_cap, 1,
       welcome_template, introduction_required, introduction_prompt, refund_window_hours, collections_by,
       brand_id, series_id, $3
FROM communities WHERE id = $1
RETURNING id, owner_id
"""
