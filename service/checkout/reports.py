"""Checkout's CSV report (core/exports.py): orders and refunds of the communities asked, in the window."""

from __future__ import annotations

from service.core.exports import Report

# One row per order created in the window and one per refund asked in it, in time order. A brand's reward-pool
# payment belongs to the brand, not to the community its order is filed under: shown on the pool, not here.
_ORDERS = """
SELECT kind, number, order_id::text, community_id::text, purpose, payer_user_id::text, amount_fen, status, at,
       note, done_at, refunded_fen
FROM (
    SELECT '订单' AS kind, o.out_trade_no AS number, o.id AS order_id, o.community_id, o.purpose, o.payer_user_id,
           o.amount_fen, o.status, o.created_at AS at, o.description AS note, o.paid_at AS done_at, o.refunded_fen
    FROM orders o
    WHERE o.community_id = ANY($1::bigint[]) AND o.created_at >= $2 AND o.created_at < $3
      AND o.purpose <> 'brand_reward_pool'
    UNION ALL
    SELECT '退款', r.out_refund_no, r.order_id, r.community_id, o.purpose, o.payer_user_id, r.amount_fen, r.status,
           r.created_at, r.reason, r.succeeded_at, NULL
    FROM refunds r JOIN orders o ON o.id = r.order_id AND o.community_id = r.community_id
    WHERE r.community_id = ANY($1::bigint[]) AND r.created_at >= $2 AND r.created_at < $3
      AND o.purpose <> 'brand_reward_pool'
) AS money
ORDER BY at, number
LIMIT $4
"""

ORDERS = Report(
    "orders",
    (
        "类型",
        "单号",
        "订单ID",
        "社群ID",
        "用途",
        "付款用户ID",
        "金额（分）",
        "状态",
        "创建时间",
        "说明或退款原因",
        "支付或退款完成时间",
        "已退款（分）",
    ),
    sql=_ORDERS,
)
