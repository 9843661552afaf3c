-- The entry orders' money (0014) read through the community: every join names community_id and the refunds in
-- flight are summed per (community, order) instead of in a correlated subquery, so on Citus the view's rows for
-- one community come from that community's shard (the earnings and a payout ask by community). An entry order's
-- community_id is its subject (0013): the same rows, the same columns on one PostgreSQL.
CREATE OR REPLACE VIEW entry_order_money AS
SELECT o.id AS order_id,
       o.community_id,
       o.status,
       o.paid_fen,
       o.refunded_fen,
       o.paid_at,
       o.payout_id,
       p.status AS payout_status,
       coalesce(refunding.fen, 0) AS refunding_fen,
       o.paid_at + make_interval(hours => coalesce(e.refund_window_hours, c.refund_window_hours))
           AS refundable_until,
       (o.status = 'paid' AND o.payout_id IS NULL AND coalesce(refunding.fen, 0) = 0
        AND o.paid_at + make_interval(hours => coalesce(e.refund_window_hours, c.refund_window_hours)) <= now())
           AS withdrawable
FROM orders o
JOIN communities c ON c.id = o.community_id
LEFT JOIN community_entries e ON e.community_id = o.community_id AND e.order_id = o.id
LEFT JOIN payouts p ON p.community_id = o.community_id AND p.id = o.payout_id
-- The refunds in flight, per order.
LEFT JOIN (
    SELECT r.community_id, r.order_id, sum(r.amount_fen) AS fen FROM refunds r
    WHERE r.status IN ('pending', 'processing', 'abnormal')
    GROUP BY r.community_id, r.order_id
) refunding ON refunding.community_id = o.community_id AND refunding.order_id = o.id
WHERE o.purpose = 'community_entry' AND o.paid_fen > 0;

-- The one re-check per post, the one open case per target and the one sign-up per member of a meetup, keyed with
-- their community too (last, so a lookup by post, target or meetup still uses them): a post, a target or a meetup
-- belongs to one community, so the same rows are unique. On Citus a distributed table's unique keys must hold
-- community_id, and an ON CONFLICT ... DO UPDATE target must name the key's columns: QUEUE_POST_CHECK, OPEN_CASE,
-- COLLECT_REVIEWS and UPSERT_SIGNUP now name community_id, the same on both.
DROP INDEX content_checks_post;
CREATE UNIQUE INDEX content_checks_post ON content_checks (post_id, community_id) WHERE post_id IS NOT NULL;
DROP INDEX moderation_cases_one_open;
CREATE UNIQUE INDEX moderation_cases_one_open ON moderation_cases (target_kind, target_id, community_id)
    WHERE status = 'open';
ALTER TABLE meetup_signups DROP CONSTRAINT meetup_signups_meetup_id_user_id_key,
    ADD CONSTRAINT meetup_signups_meetup_id_user_id_key UNIQUE (meetup_id, user_id, community_id);
