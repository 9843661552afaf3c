-- Owner payouts: the withdrawable entry fees of a community, sent to its owner by merchant transfer.
-- Additive: old pods neither read nor write it (infra/README.md, rolling updates).
CREATE TABLE payouts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id   bigint NOT NULL REFERENCES communities (id),
    payee_user_id  bigint NOT NULL REFERENCES users (id),
    amount_fen     integer NOT NULL CHECK (amount_fen > 0),
    order_count    integer NOT NULL CHECK (order_count > 0),
    transfer_id    bigint REFERENCES transfers (id),
    -- pending until the owner confirms the transfer in WeChat; failed: the transfer failed or was not
    -- confirmed in time, and its orders are withdrawable again.
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX payouts_community ON payouts (community_id, id DESC);

-- The payout an order's money went to. Set, the order can no longer be refunded.
ALTER TABLE orders ADD COLUMN payout_id bigint REFERENCES payouts (id);
CREATE INDEX orders_payout ON orders (payout_id) WHERE payout_id IS NOT NULL;

-- The money of each paid entry order, as the earnings and payouts read it: withdrawable once the payer's
-- refund window has passed, no refund of it is in flight and no payout holds it.
CREATE VIEW entry_order_money AS
SELECT o.id AS order_id,
       o.subject_id AS community_id,
       o.status,
       o.paid_fen,
       o.refunded_fen,
       o.paid_at,
       o.payout_id,
       p.status AS payout_status,
       refunding.fen AS refunding_fen,
       refund.until AS refundable_until,
       (o.status = 'paid' AND o.payout_id IS NULL AND refunding.fen = 0 AND refund.until <= now()) AS withdrawable
FROM orders o
JOIN communities c ON c.id = o.subject_id
LEFT JOIN community_entries e ON e.order_id = o.id
LEFT JOIN payouts p ON p.id = o.payout_id
-- The payer's refund window, frozen per payment (community_entries) or the community's.
CROSS JOIN LATERAL (
    SELECT o.paid_at + make_interval(hours => coalesce(e.refund_window_hours, c.refund_window_hours)) AS until
) refund
CROSS JOIN LATERAL (
    SELECT coalesce(sum(r.amount_fen), 0) AS fen FROM refunds r
    WHERE r.order_id = o.id AND r.status IN ('pending', 'processing', 'abnormal')
) refunding
WHERE o.purpose = 'community_entry' AND o.paid_fen > 0;
