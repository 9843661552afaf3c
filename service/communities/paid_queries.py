"""The SQL of paid entry (paid.py) and owners' payouts (payouts.py): $n parameters only. Ids leave as text."""

from __future__ import annotations

from service.communities.queries import INVITER_STANDS

# --- paid entry (paid.py) --------------------------------------------------------------------------------

ENTRY_MODE = "SELECT entry_mode FROM communities WHERE id = $1"

# The invite behind an entry order, taken when the order is created (first order wins). The conflicts name the
# key: under Citus it is (community_id, order_id) (service/db/citus.py).
INSERT_ENTRY = """
INSERT INTO community_entries (order_id, community_id, invite_id, referrer_id, share_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ON CONSTRAINT community_entries_pkey DO NOTHING
"""

# At payment: the refund window in force now is the one this payment keeps.
RECORD_ENTRY_PAYMENT = """
INSERT INTO community_entries AS e (order_id, community_id, refund_window_hours) VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT community_entries_pkey DO UPDATE SET refund_window_hours = EXCLUDED.refund_window_hours
RETURNING e.invite_id, e.referrer_id, e.share_id
"""

# An invite ($2) of community $1 that brought a paying member counts one use, as long as it is still live when the
# payment admits them: uses left, not revoked, not expired, its creator still standing there (a free join through it
# would be refused by then: USE_INVITE; an erased creator's links are not revoked, only read dead).
COUNT_INVITE_USE = f"""
UPDATE invites SET uses = uses + 1
WHERE community_id = $1 AND id = $2 AND uses < max_uses AND revoked_at IS NULL AND expires_at > now()
  AND {INVITER_STANDS}
RETURNING id
"""  # noqa: S608

ENTRY_REFUND_WINDOW = """
SELECT coalesce(e.refund_window_hours, c.refund_window_hours)
FROM communities c LEFT JOIN community_entries e ON e.community_id = c.id AND e.order_id = $2
WHERE c.id = $1
"""

# A later entry payment of the payer that their membership may stand on: for one of the communities $1 (the one
# paid for, or every sister of its series: an entry order is filed under the community paid for, not the sister
# the payer was put in), paid, and not being refunded in full (a payment refused, e.g. already_in_series, is).
# Later means by (paid_at, id): WeChat's success_time has whole seconds, so two payments often share a paid_at;
# by paid_at alone neither was later than the other and taking the first back put out a member whose seat the
# second had bought. An order made after another has the higher id (a payment that rejoins follows the leaving).
LATER_ENTRY_PAYMENT = """
SELECT EXISTS (
    SELECT 1 FROM orders o
    WHERE o.purpose = 'community_entry' AND o.community_id = ANY($1::bigint[]) AND o.subject_id = o.community_id
      AND o.payer_user_id = $2 AND o.status = 'paid' AND (o.paid_at, o.id) > ($4::timestamptz, $3::bigint)
      AND o.paid_fen > (
          SELECT coalesce(sum(r.amount_fen), 0) FROM refunds r
          WHERE r.community_id = o.community_id AND r.order_id = o.id AND r.status NOT IN ('closed', 'failed')
      )
)
"""

ENTRY_ORDERS = """
SELECT o.id, o.payer_user_id, u.nickname, u.avatar_url, o.amount_fen, o.status, o.created_at, o.paid_at,
       o.refunded_fen, coalesce(e.refund_window_hours, c.refund_window_hours) AS window_hours
FROM orders o
JOIN users u ON u.id = o.payer_user_id
JOIN communities c ON c.id = o.community_id
LEFT JOIN community_entries e ON e.order_id = o.id AND e.community_id = o.community_id
WHERE o.purpose = 'community_entry' AND o.subject_id = $1 AND o.community_id = $1
  AND ($2::text IS NULL OR o.status = $2)
  AND ($3::bigint IS NULL OR o.id < $3)
ORDER BY o.id DESC
LIMIT $4
"""

REFUNDS_OF_ORDERS = "SELECT * FROM refunds WHERE order_id = ANY($1::bigint[]) ORDER BY id"

ENTRY_ORDER = """
SELECT id, purpose, subject_id, payer_user_id FROM orders
WHERE id = $1 AND purpose = 'community_entry' AND subject_id = $2
"""

# entry_order_money (migration 0014): each paid entry order's money and whether a payout may take it.
EARNINGS = """
SELECT count(*) AS paid_orders,
       coalesce(sum(paid_fen), 0)::bigint AS paid_fen,
       coalesce(sum(refunded_fen), 0)::bigint AS refunded_fen,
       coalesce(sum(refunding_fen), 0)::bigint AS refunding_fen,
       coalesce(sum(paid_fen - refunded_fen - refunding_fen) FILTER (
           WHERE status = 'paid' AND refundable_until > now()
       ), 0)::bigint AS in_window_fen,
       coalesce(sum(paid_fen - refunded_fen) FILTER (WHERE payout_status = 'pending'), 0)::bigint AS paying_out_fen,
       coalesce(sum(paid_fen - refunded_fen) FILTER (WHERE payout_status = 'succeeded'), 0)::bigint AS paid_out_fen,
       coalesce(sum(paid_fen - refunded_fen) FILTER (WHERE withdrawable), 0)::bigint AS withdrawable_fen
FROM entry_order_money
WHERE community_id = $1
"""

# --- payouts -------------------------------------------------------------------------------------------

# First lock every entry order not paid out yet; WITHDRAWABLE_ORDERS then reads them in a fresh snapshot, so a
# refund committed before the lock is seen, and one asked after it waits and finds the order paid out.
LOCK_UNPAID_OUT_ORDERS = """
SELECT id FROM orders
WHERE purpose = 'community_entry' AND subject_id = $1 AND community_id = $1 AND status = 'paid' AND payout_id IS NULL
ORDER BY id
FOR UPDATE
"""

WITHDRAWABLE_ORDERS = """
SELECT order_id AS id, paid_fen - refunded_fen AS amount_fen FROM entry_order_money
WHERE community_id = $1 AND order_id = ANY($2::bigint[]) AND withdrawable
ORDER BY paid_at, order_id
"""

INSERT_PAYOUT = """
INSERT INTO payouts (community_id, payee_user_id, amount_fen, order_count) VALUES ($1, $2, $3, $4) RETURNING id
"""

HOLD_ORDERS = "UPDATE orders SET payout_id = $2, updated_at = now() WHERE id = ANY($1::bigint[])"

SET_PAYOUT_TRANSFER = "UPDATE payouts SET transfer_id = $2 WHERE id = $1"

PAYOUT = "SELECT * FROM payouts WHERE id = $1"

PAYOUTS = """
SELECT * FROM payouts WHERE community_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3
"""

# Read in the transfer's transaction, under its row lock (core/money/operations.apply): the one finish of its
# payout at a time. No FOR UPDATE: Citus takes none by a payout's id alone.
PAYOUT_STATUS = "SELECT status FROM payouts WHERE id = $1"

# A pending payout finishes once; a failed one still takes a success (checkout books a transfer WeChat paid after
# we had failed it).
FINISH_PAYOUT = """
UPDATE payouts SET status = $2, finished_at = now()
WHERE id = $1 AND (status = 'pending' OR (status = 'failed' AND $2 = 'succeeded'))
RETURNING community_id
"""

RELEASE_ORDERS = "UPDATE orders SET payout_id = NULL, updated_at = now() WHERE payout_id = $1"

# An invite named when ordering: checked (not used) now; one use is counted when the payer is admitted. A link
# whose creator no longer stands reads as revoked (queries.INVITER_STANDS).
INVITE_FOR_ORDER = f"""
SELECT id, created_by, revoked_at IS NOT NULL OR NOT {INVITER_STANDS} AS revoked, expires_at <= now() AS expired,
       uses >= max_uses AS used_up
FROM invites WHERE community_id = $1 AND code = $2
"""  # noqa: S608

REFUNDS_PROMISED = """
SELECT coalesce(sum(amount_fen), 0) FROM refunds WHERE order_id = $1 AND status NOT IN ('closed', 'failed')
"""

REFUND_REQUESTED_BY = "SELECT requested_by FROM refunds WHERE id = $1"
