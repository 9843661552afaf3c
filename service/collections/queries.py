"""The SQL of group collections: $n parameters only."""

from __future__ import annotations

from service.core.blocks import unblocked

COLLECTIONS_BY = "SELECT collections_by FROM communities WHERE id = $1"

# Everyone but the initiator ($2), leaving out whoever blocked them: a block keeps them from notifying the blocker.
OTHER_ACTIVE_MEMBERS = f"""
SELECT user_id FROM memberships
WHERE community_id = $1 AND status = 'active' AND user_id <> $2 AND {unblocked("user_id", "$2")}
ORDER BY user_id
"""  # noqa: S608

MEMBERSHIP_STATUS = "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2"

ACTIVE_MEMBERS_AMONG = """
SELECT user_id FROM memberships WHERE community_id = $1 AND status = 'active' AND user_id = ANY($2::bigint[])
"""

INSERT_COLLECTION = """
INSERT INTO collections (community_id, initiator_id, title, amount_fen, deadline, participant_count)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""

INSERT_PARTICIPANTS = """
INSERT INTO collection_participants (collection_id, community_id, user_id)
SELECT c.id, c.community_id, unnest($2::bigint[]) FROM collections c WHERE c.id = $1
"""

_VIEW = """
SELECT c.id, c.community_id, c.initiator_id, u.nickname AS initiator_nickname, c.title, c.amount_fen, c.deadline,
       c.status, c.participant_count, c.paid_count, c.collected_fen, c.payout_status, c.transfer_id,
       c.cancel_reason, c.cancel_cause, c.created_at, c.settled_at, c.cancelled_at,
       COALESCE(im.status = 'active', false) AS initiator_active,
       p.status AS my_status, p.order_id AS my_order_id
FROM collections c
JOIN users u ON u.id = c.initiator_id
LEFT JOIN memberships im ON im.community_id = c.community_id AND im.user_id = c.initiator_id
LEFT JOIN collection_participants p ON p.collection_id = c.id AND p.community_id = c.community_id AND p.user_id = $2
"""

# One collection as the viewer ($2) sees it.
COLLECTION = _VIEW + "WHERE c.id = $1"

# A community's collections, newest first ($1 community, $2 viewer).
COLLECTIONS = (
    _VIEW
    + """WHERE c.community_id = $1 AND ($3::text IS NULL OR c.status = $3) AND ($4::bigint IS NULL OR c.id < $4)
ORDER BY c.id DESC
LIMIT $5
"""
)

PARTICIPANTS = """
SELECT p.user_id, u.nickname, u.avatar_url, p.status, p.paid_at
FROM collection_participants p JOIN users u ON u.id = p.user_id
WHERE p.collection_id = $1
ORDER BY p.user_id
"""

# The lock every change of a collection's state and money takes: $1 its community (read first by
# COLLECTION_COMMUNITY), $2 the collection, so Citus takes it on the community's shard (it takes none by id).
COLLECTION_COMMUNITY = "SELECT community_id FROM collections WHERE id = $1"
LOCK_COLLECTION = "SELECT * FROM collections WHERE community_id = $1 AND id = $2 FOR UPDATE"

PARTICIPANT = "SELECT * FROM collection_participants WHERE collection_id = $1 AND user_id = $2"

LOCK_PARTICIPANT = """
SELECT * FROM collection_participants WHERE community_id = $1 AND collection_id = $2 AND user_id = $3 FOR UPDATE
"""

MARK_SHARE_PAID = """
UPDATE collection_participants SET status = 'paid', order_id = $3, paid_at = $4
WHERE collection_id = $1 AND user_id = $2 AND status = 'unpaid'
"""

MARK_SHARE_REFUNDED = """
UPDATE collection_participants SET status = 'refunded'
WHERE collection_id = $1 AND order_id = $2 AND status = 'paid'
RETURNING user_id
"""

ADD_PAID = """
UPDATE collections SET paid_count = paid_count + $2, collected_fen = collected_fen + $3, updated_at = now()
WHERE id = $1
"""

PAID_SHARES = """
SELECT user_id, order_id FROM collection_participants WHERE collection_id = $1 AND status = 'paid' ORDER BY user_id
"""

CANCEL = """
UPDATE collections SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3,
       cancel_cause = $4, updated_at = now()
WHERE id = $1
"""

# Whether the initiator ($2) is an active member of the collection's community ($1) now. FOR SHARE: a departure or
# a return being committed is waited for and then read, so the settlement decides on the membership as it stands
# (a missing row, as after an account's erasure, is not a member).
INITIATOR_STANDING = "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2 FOR SHARE"

START_SETTLING = "UPDATE collections SET status = 'settling', updated_at = now() WHERE id = $1 AND status = 'open'"

# Share orders that could still be paid: settlement (and a cancel) closes them first.
OPEN_SHARE_ORDERS = """
SELECT id FROM orders WHERE purpose = 'collection_share' AND subject_id = $1 AND status = 'created' ORDER BY id
"""

EXPIRE_UNPAID = "UPDATE collection_participants SET status = 'expired' WHERE collection_id = $1 AND status = 'unpaid'"

MARK_SETTLED = """
UPDATE collections SET status = 'settled', settled_at = now(), transfer_id = $2, payout_status = $3, updated_at = now()
WHERE id = $1
"""

SET_PAYOUT = """
UPDATE collections c SET payout_status = $3,
       paid_out_at = CASE WHEN $3 = 'succeeded' THEN t.now ELSE c.paid_out_at END, updated_at = t.now
FROM (SELECT now() AS now) t  -- Citus takes no now() inside a CASE of a distributed UPDATE
WHERE c.id = $1 AND c.transfer_id = $2
"""

# Collections past their deadline and not settled yet (the sweep makes sure each has a settle job).
OVERDUE = """
SELECT id FROM collections WHERE status IN ('open', 'settling') AND deadline <= now() ORDER BY deadline LIMIT $1
"""
