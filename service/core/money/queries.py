"""SQL of checkout: orders, refunds, transfers and the ledger."""

PAYER_OPENID = "SELECT openid FROM users WHERE id = $1"

ORDER = "SELECT * FROM orders WHERE id = $1"

# Row locks name the community (the order's shard under Citus, which locks on one shard only): locks.py finds it
# first when the caller knows only the order's id.
ORDER_COMMUNITY = "SELECT community_id FROM orders WHERE id = $1"

LOCK_ORDER = "SELECT * FROM orders WHERE community_id = $1 AND id = $2 FOR UPDATE"

LOCK_ORDER_BY_NO = "SELECT * FROM orders WHERE community_id = $1 AND out_trade_no = $2 FOR UPDATE"

# A notification's order, unlocked, by WeChat's number alone (every shard under Citus: an index lookup each, no
# lock): a duplicate notification stops here; a first one then locks the order on its community (payments.py).
ORDER_BY_NO = "SELECT * FROM orders WHERE out_trade_no = $1"

# Not by community: the same key reused for another community's order must be found (and refused).
ORDER_BY_IDEMPOTENCY_KEY = "SELECT * FROM orders WHERE payer_user_id = $1 AND idempotency_key = $2"

LOCK_OPEN_ORDER = """
SELECT * FROM orders
WHERE payer_user_id = $1 AND purpose = $2 AND coalesce(subject_id, 0) = coalesce($3, 0) AND status = 'created'
  AND community_id = $4
FOR UPDATE
"""

# time_expire to the second: WeChat gets it to the second, and placing the same order again must send the
# same value to get the same prepay_id back.
INSERT_ORDER = """
INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, subject_id, community_id, description,
                    amount_fen, time_expire, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, date_trunc('second', now()) + make_interval(secs => $9), $10)
RETURNING *
"""

SET_PREPAY_ID = """
UPDATE orders SET prepay_id = $2, updated_at = now() WHERE id = $1 AND community_id = $3 AND prepay_id IS NULL
"""

# The order paid and its payment entered in the ledger: one statement, one round trip. The entry reads the order
# as the statement found it (the amount does not change), on the order's community, like INSERT_LEDGER_REFUND.
MARK_PAID = """
WITH paid AS (
    UPDATE orders SET status = 'paid', paid_fen = amount_fen, transaction_id = $2, paid_at = $3, updated_at = now()
    WHERE id = $1 AND community_id = $4
    RETURNING *
), entry AS (
    INSERT INTO ledger_entries (kind, order_id, community_id, amount_fen, external_id)
    SELECT 'payment', o.id, o.community_id, o.amount_fen, $2 FROM orders o WHERE o.id = $1 AND o.community_id = $4
)
SELECT * FROM paid
"""

MARK_CLOSED = """
UPDATE orders SET status = 'closed', closed_at = now(), updated_at = now() WHERE id = $1 AND status = 'created'
"""

ADD_REFUNDED = """
UPDATE orders SET refunded_fen = refunded_fen + $2,
       status = CASE WHEN refunded_fen + $2 = paid_fen THEN 'refunded' ELSE status END,
       updated_at = now()
WHERE id = $1 AND community_id = $3
"""

SUBJECT_ORDERS = """
SELECT * FROM orders WHERE purpose = $1 AND subject_id = $2 AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4
"""

ORDER_REFUNDS = "SELECT * FROM refunds WHERE order_id = $1 ORDER BY id"

REFUND = "SELECT * FROM refunds WHERE id = $1"

REFUNDS_PROMISED = """
SELECT coalesce(sum(amount_fen), 0) FROM refunds
WHERE order_id = $1 AND community_id = $2 AND status NOT IN ('closed', 'failed')
"""

ACTIVE_REFUND_BY = """
SELECT * FROM refunds WHERE order_id = $1 AND initiated_by = $2 AND status NOT IN ('closed', 'failed')
ORDER BY id LIMIT 1
"""

# Refunds and ledger rows copy the community of their order (or transfer) in the same statement: the Citus
# distribution key (service/db/citus.sql), so they live on the shard of their community.
INSERT_REFUND = """
INSERT INTO refunds (order_id, community_id, out_refund_no, amount_fen, initiated_by, requested_by, reason)
SELECT o.id, o.community_id, $2, $3, $4, $5, $6 FROM orders o WHERE o.id = $1 AND o.community_id = $7
RETURNING *
"""

REFUND_FOR_SUBMIT = """
SELECT r.id, r.order_id, r.out_refund_no, r.amount_fen, r.status, r.reason,
       o.out_trade_no, o.amount_fen AS order_amount_fen
FROM refunds r JOIN orders o ON o.community_id = r.community_id AND o.id = r.order_id  -- co-located on Citus
WHERE r.id = $1
"""

REFUND_ORDER = "SELECT order_id, community_id FROM refunds WHERE out_refund_no = $1"

LOCK_REFUND = "SELECT * FROM refunds WHERE community_id = $1 AND out_refund_no = $2 FOR UPDATE"

UPDATE_REFUND = """
UPDATE refunds r SET status = $2, refund_id = coalesce($3, r.refund_id), last_error = $4,
       succeeded_at = CASE WHEN $2 = 'succeeded' THEN t.now ELSE r.succeeded_at END, updated_at = t.now
FROM (SELECT now() AS now) t  -- Citus takes no now() inside a CASE of a distributed UPDATE; a column it takes
WHERE r.id = $1
"""

# A call's error is kept beside the state, never with it: the state is written under the row's lock (apply), and
# a status read before the call may be stale by now. A send WeChat refused fails only a refund still pending.
KEEP_REFUND_ERROR = "UPDATE refunds SET last_error = $2, updated_at = now() WHERE id = $1"

FAIL_REFUND = """
UPDATE refunds SET status = 'failed', last_error = $2, updated_at = now() WHERE id = $1 AND status = 'pending'
"""

# $4: the community of the order just locked (a plain VALUES insert: one shard under Citus).
INSERT_LEDGER_REFUND = """
INSERT INTO ledger_entries (kind, order_id, refund_id, community_id, amount_fen, external_id)
SELECT 'refund', o.id, $2, o.community_id, $3, $4 FROM orders o WHERE o.id = $1 AND o.community_id = $5
"""

INSERT_LEDGER_TRANSFER = """
INSERT INTO ledger_entries (kind, transfer_id, community_id, amount_fen, external_id)
SELECT 'transfer', t.id, t.community_id, $2, $3 FROM transfers t WHERE t.id = $1
"""

INSERT_TRANSFER = """
INSERT INTO transfers (out_bill_no, payee_user_id, payee_openid, amount_fen, purpose, subject_id, community_id,
                       remark, dedupe_key)
SELECT $1, u.id, u.openid, $3, $4, $5, $6, $7, $8 FROM users u WHERE u.id = $2
ON CONFLICT DO NOTHING  -- the dedupe key: the one unique key a caller repeats (no target: Citus widens it)
RETURNING id
"""

TRANSFER_BY_DEDUPE_KEY = "SELECT * FROM transfers WHERE dedupe_key = $1"

TRANSFER = "SELECT * FROM transfers WHERE id = $1"

PAYEE_TRANSFER = "SELECT * FROM transfers WHERE id = $1 AND payee_user_id = $2"

# Read unlocked for its community ($1), then locked on that community's shard, as orders are.
TRANSFER_COMMUNITY_BY_NO = "SELECT community_id FROM transfers WHERE out_bill_no = $1"
LOCK_TRANSFER_BY_NO = "SELECT * FROM transfers WHERE community_id = $1 AND out_bill_no = $2 FOR UPDATE"

UPDATE_TRANSFER = """
UPDATE transfers x SET status = $2, transfer_bill_no = coalesce($3, x.transfer_bill_no),
       package_info = $4, fail_reason = coalesce($5, x.fail_reason), last_error = $6,
       finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled') THEN t.now ELSE x.finished_at END,
       updated_at = t.now
FROM (SELECT now() AS now) t  -- as in UPDATE_REFUND
WHERE x.id = $1
"""

# As for refunds: the error alone, and a refused send fails only a transfer still pending.
KEEP_TRANSFER_ERROR = "UPDATE transfers SET last_error = $2, updated_at = now() WHERE id = $1"

FAIL_TRANSFER = """
UPDATE transfers SET status = 'failed', package_info = NULL, fail_reason = $2, last_error = $3, finished_at = now(),
       updated_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING id
"""

# The books' check: what checkout_ledger_violations() (migration 0004) finds, as one statement Citus runs too (it
# plans no SQL function over distributed tables): each order's ledger and refunds summed per (community, order),
# joined on the distribution column, so every shard checks its own orders. Per order, the problems found.
LEDGER_VIOLATIONS = """
SELECT order_id, problems FROM (
    SELECT o.id AS order_id, array_remove(ARRAY[
        CASE WHEN coalesce(l.paid, 0) <> o.paid_fen
             THEN 'ledger payments differ from the order''s paid amount' END,
        CASE WHEN coalesce(l.refunded, 0) <> o.refunded_fen
             THEN 'ledger refunds differ from the order''s refunded amount' END,
        CASE WHEN coalesce(r.succeeded, 0) <> o.refunded_fen
             THEN 'succeeded refunds differ from the order''s refunded amount' END,
        CASE WHEN coalesce(l.paid, 0) <> coalesce(l.refunded, 0) + o.paid_fen - o.refunded_fen
                  OR o.paid_fen - o.refunded_fen < 0
             THEN 'paid is not refunded + retained' END,
        CASE WHEN coalesce(r.promised, 0) > o.paid_fen THEN 'refunds promised exceed the payment' END
    ], NULL) AS problems
    FROM orders o
    LEFT JOIN (SELECT community_id, order_id, sum(amount_fen) FILTER (WHERE kind = 'payment') AS paid,
                      sum(amount_fen) FILTER (WHERE kind = 'refund') AS refunded
               FROM ledger_entries WHERE order_id IS NOT NULL GROUP BY community_id, order_id) l
           ON l.community_id = o.community_id AND l.order_id = o.id
    LEFT JOIN (SELECT community_id, order_id, sum(amount_fen) FILTER (WHERE status = 'succeeded') AS succeeded,
                      sum(amount_fen) FILTER (WHERE status NOT IN ('closed', 'failed')) AS promised
               FROM refunds GROUP BY community_id, order_id) r
           ON r.community_id = o.community_id AND r.order_id = o.id
) b
WHERE problems <> '{}'
ORDER BY order_id
"""
