"""SQL of free trials and their feedback. Read queries cast ids to text: they go to the wire as strings."""

from service.core.media import APPROVED_IMAGES_JSON, IMAGES_JSON

# --- free trials -------------------------------------------------------------------------------------------

# A granted qualification past its claim deadline is expired as soon as it is read, before the job writes it.
_TRIAL_SELECT = """
SELECT t.id::text AS id, t.poll_id::text AS poll_id, p.title AS poll_title, t.community_id::text AS community_id,
       p.trial_product AS product, t.user_id::text AS user_id, t.reason, t.position,
       CASE WHEN t.status = 'granted' AND t.expires_at <= now() THEN 'expired' ELSE t.status END AS status,
       t.granted_at, t.expires_at, t.claimed_at, t.delivery_note, t.shipped_at, t.shipping_note, t.voided_at,
       t.void_reason, f.id::text AS feedback_id, t.id AS sort_id
FROM trial_qualifications t
JOIN polls p ON p.id = t.poll_id AND p.community_id = t.community_id
LEFT JOIN trial_feedback f ON f.qualification_id = t.id AND f.community_id = t.community_id
"""

TRIAL = _TRIAL_SELECT + "WHERE t.id = $1"

MY_TRIALS = (
    _TRIAL_SELECT
    + """
WHERE t.user_id = $1 AND ($2::bigint IS NULL OR t.id < $2)
ORDER BY t.id DESC
LIMIT $3
"""
)

POLL_TRIALS = (
    _TRIAL_SELECT
    + """
WHERE t.poll_id = $1 AND ($2::bigint IS NULL OR t.id > $2)
ORDER BY t.id
LIMIT $3
"""
)

# Locked by its community ($1, read first by TRIAL_COMMUNITY; $2 the trial): Citus locks a row only on the one
# shard it names.
TRIAL_COMMUNITY = "SELECT community_id FROM trial_qualifications WHERE id = $1"

# The community's row FOR KEY SHARE (what the claim's and shipment's own inserts take later): an admin's removal
# locks it FOR UPDATE before it ends the membership (communities/members.py), so one in flight is committed first and
# then read, and one not yet begun waits until the claim or shipment is done.
SHARE_COMMUNITY = "SELECT 1 FROM communities WHERE id = $1 FOR KEY SHARE"

LOCK_TRIAL = """
SELECT id, poll_id, community_id, user_id, status, void_reason, expires_at <= now() AS past_deadline
FROM trial_qualifications WHERE community_id = $1 AND id = $2
FOR UPDATE
"""

TRIAL_STATE = """
SELECT t.id, t.poll_id, t.community_id, t.user_id, t.status, t.void_reason, t.expires_at <= now() AS past_deadline,
       EXISTS (
           SELECT 1 FROM trial_feedback f WHERE f.qualification_id = t.id AND f.community_id = t.community_id
       ) AS has_feedback
FROM trial_qualifications t WHERE t.id = $1
"""

CLAIM_TRIAL = """
UPDATE trial_qualifications SET status = 'claimed', claimed_at = least(claimed_at, now()), delivery_note = $2
WHERE id = $1
"""

SHIP_TRIAL = """
UPDATE trial_qualifications SET status = 'shipped', shipped_at = now(), shipped_by = $2, shipping_note = $3
WHERE id = $1
"""

EXPIRE_DUE_TRIALS = """
UPDATE trial_qualifications SET status = 'expired'
WHERE poll_id = $1 AND status = 'granted' AND expires_at <= now()
RETURNING id, user_id
"""

NEXT_TRIAL_DEADLINE = """
SELECT min(expires_at) FROM trial_qualifications WHERE poll_id = $1 AND status = 'granted'
"""

# --- feedback ----------------------------------------------------------------------------------------------

INSERT_FEEDBACK = """
INSERT INTO trial_feedback (qualification_id, poll_id, community_id, user_id, rating, text, content_status,
                            image_ids)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING  -- one feedback per qualification (no target: Citus widens that key)
RETURNING id
"""


def _feedback_select(images: str) -> str:
    return f"""
SELECT f.id::text AS id, f.qualification_id::text AS trial_id, f.poll_id::text AS poll_id,
       f.user_id::text AS user_id, coalesce(u.nickname, '') AS nickname, f.rating, f.text, f.image_urls,
       f.content_status, f.post_id::text AS post_id, f.created_at, f.id AS sort_id,
       {images.format(ids="f.image_ids")}::text AS images
FROM trial_feedback f JOIN users u ON u.id = f.user_id
"""  # noqa: S608 - constant SQL fragments, assembled at import time


# The holder's own feedback shows all its photos; the admins' list only those WeChat approved.
FEEDBACK = _feedback_select(IMAGES_JSON) + "WHERE f.id = $1"

FEEDBACK_OF_POLL = (
    _feedback_select(APPROVED_IMAGES_JSON)
    + """
WHERE f.poll_id = $1 AND ($2::bigint IS NULL OR f.id > $2)
ORDER BY f.id
LIMIT $3
"""
)

FEEDBACK_STATS = """
SELECT count(*)::int AS count, round(avg(rating), 2)::float8 AS average FROM trial_feedback WHERE poll_id = $1
"""

LOCK_FEEDBACK_OF_TRIAL = """
SELECT f.id, f.community_id, f.rating, f.text, f.image_urls, f.content_status, f.post_id, p.title,
       p.trial_product, f.image_ids
FROM trial_feedback f JOIN polls p ON p.id = f.poll_id AND p.community_id = f.community_id
WHERE f.qualification_id = $1 AND f.community_id = $2
FOR UPDATE OF f
"""

INSERT_MEMBER_POST = """
INSERT INTO posts (community_id, author_id, kind, text, image_urls, status, image_ids, check_label)
VALUES ($1, $2, 'feedback', $3, $4, $5, $6, $7)
RETURNING id
"""

POST = (
    """
SELECT id::text AS post_id, community_id::text AS community_id, kind, status, text, image_urls, created_at,
       """
    + IMAGES_JSON.format(ids="posts.image_ids")
    + """::text AS images
FROM posts WHERE id = $1
"""
)

SET_FEEDBACK_POST = "UPDATE trial_feedback SET post_id = $2 WHERE id = $1"

# Holders who have not claimed yet and still can: told the deadline is near.
# Holders not yet claimed whose own reminder is due ($2 the lead before the deadline): a place redeemed with points
# after the close has a later deadline and a reminder job of its own, and is not told with the close's.
UNCLAIMED = """
SELECT id, user_id, community_id, expires_at FROM trial_qualifications
WHERE poll_id = $1 AND status = 'granted' AND expires_at > now() AND expires_at <= now() + $2::interval
"""
