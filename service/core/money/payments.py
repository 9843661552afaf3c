"""Payments: a successful WeChat Pay transaction recorded once, from its notification or, when that is late,
from asking WeChat; in the same transaction the purpose grants what was bought, or refuses and it is refunded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from service.core.money import queries
from service.core.money.notifications import mismatch
from service.core.money.purposes import PaidOrder, Refuse, get_purpose
from service.core.money.refunds import promise_refund
from service.errors import Problem
from service.jobs import Reschedule
from service.wechat import pay as wxpay
from service.wechat.pay import PayConfig, PayError, WeChatPay

log = logging.getLogger("service.checkout")


async def apply_transaction(conn: asyncpg.Connection, config: PayConfig, txn: wxpay.Transaction) -> str:
    """Record a successful payment once: 'applied', 'duplicate' or 'ignored' (not a payment).

    In the same transaction the purpose's `on_paid` grants what was bought, or refuses and the payment is
    refunded automatically. Anything that disagrees with the order raises and changes nothing.
    """
    if txn.appid != config.appid or txn.mchid != config.mchid:
        raise mismatch("appid or mchid", outTradeNo=txn.out_trade_no)
    if txn.trade_state not in ("SUCCESS", "REFUND"):
        return "ignored"
    # A paid order never changes its payment: a duplicate notification (WeChat sends each until acknowledged) is
    # answered from one unlocked read, with the checks the locked path makes, in the same order.
    order = await conn.fetchrow(queries.ORDER_BY_NO, txn.out_trade_no)
    if order is None:
        raise Problem("pay_notification_unknown", "no such order")
    if order["transaction_id"] is not None:
        return _check(order, txn)
    async with conn.transaction():
        order = await conn.fetchrow(queries.LOCK_ORDER_BY_NO, order["community_id"], txn.out_trade_no)
        if _check(order, txn) == "duplicate":
            return "duplicate"
        paid_at = wxpay.parse_time(txn.success_time) if txn.success_time else datetime.now(UTC)
        was_closed = order["status"] == "closed"
        # Marked paid and entered in the ledger by one statement.
        order = await conn.fetchrow(queries.MARK_PAID, order["id"], txn.transaction_id, paid_at, order["community_id"])
        if was_closed:
            refusal: Refuse | None = Refuse("order_closed", "the order had been closed when the payment arrived")
        else:
            purpose = get_purpose(order["purpose"])
            if purpose is None:
                raise RuntimeError(f"no checkout purpose {order['purpose']!r} is registered")
            refusal = await purpose.on_paid(conn, PaidOrder.of(order))
        if refusal is not None:
            reason = f"{refusal.reason}: {refusal.message}" if refusal.message else refusal.reason
            await promise_refund(conn, order, order["amount_fen"], "system", None, reason)
            log.info("payment refused, refunding", extra={"orderId": order["id"], "reason": refusal.reason})
        log.info("payment applied", extra={"orderId": order["id"], "amountFen": order["amount_fen"]})
        return "applied"


def _check(order: asyncpg.Record, txn: wxpay.Transaction) -> str | None:
    """Raises when the transaction disagrees with the order; 'duplicate' when the order holds it already."""
    if txn.amount is None or txn.amount.total != order["amount_fen"]:
        raise mismatch("amount", orderId=order["id"], total=txn.amount and txn.amount.total)
    if txn.payer is not None and txn.payer.openid and txn.payer.openid != order["payer_openid"]:
        raise mismatch("payer", orderId=order["id"])
    if not txn.transaction_id:
        raise mismatch("transaction_id missing", orderId=order["id"])
    if order["transaction_id"] is not None:
        if order["transaction_id"] != txn.transaction_id:
            raise mismatch("a second transaction for one order", orderId=order["id"])
        return "duplicate"
    return None


async def reconcile_order(pool: asyncpg.Pool, pay: WeChatPay, order_id: int) -> None:
    """No notification yet: ask WeChat. Applies a payment; reschedules while the order may still be paid."""
    order = await pool.fetchrow(queries.ORDER, order_id)
    if order is None or order["status"] != "created":
        return
    try:
        txn = await pay.query_order(order["out_trade_no"])
    except PayError as exc:
        if exc.code != "ORDER_NOT_EXIST":
            raise
        txn = None
    if txn is not None and txn.trade_state in ("SUCCESS", "REFUND"):
        async with pool.acquire() as conn:
            await apply_transaction(conn, pay.config, txn)
        log.info("order reconciled from a query", extra={"orderId": order_id})
        return
    if txn is not None and txn.trade_state == "CLOSED":
        await pool.execute(queries.MARK_CLOSED, order_id)
        return
    left = (order["time_expire"] - datetime.now(UTC)).total_seconds()
    if left > 0:
        raise Reschedule(min(max(left, 1.0), 300.0))
