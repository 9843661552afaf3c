"""Refunds: promised under the order's lock, then sent to WeChat and followed to their end (operations.py).

The payer asks for the whole payment back within the purpose's refund window; an admin or a domain refunds all
or part of a paid order in its own transaction; a payment its purpose refuses is refunded by the system.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from service.core.money import queries
from service.core.money.locks import lock_order
from service.core.money.models import Refund
from service.core.money.notices import refund_notice
from service.core.money.notifications import mismatch
from service.core.money.numbers import merchant_number
from service.core.money.operations import Operation
from service.core.money.purposes import PaidOrder, RefundInfo, get_purpose
from service.core.rows import from_row
from service.errors import Problem
from service.jobs import Reschedule, enqueue
from service.settings import Settings
from service.wechat import pay as wxpay
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.checkout")


def refund_view(row: asyncpg.Record) -> Refund:
    return from_row(Refund, row, notice=refund_notice(row["reason"]))


async def refund_window(conn: asyncpg.Connection, settings: Settings, order: asyncpg.Record) -> timedelta | None:
    """How long after payment the payer may ask for a refund (None: never): the purpose's rule, else the setting."""
    purpose = get_purpose(order["purpose"])
    if purpose is not None and purpose.payer_refund_window is not None:
        return await purpose.payer_refund_window(conn, PaidOrder.of(order))
    return timedelta(seconds=settings.checkout_refund_window)


async def promise_refund(
    conn: asyncpg.Connection,
    order: asyncpg.Record,
    amount_fen: int,
    initiated_by: str,
    requested_by: int | None,
    reason: str,
) -> asyncpg.Record:
    """Inside a transaction holding the order's lock: promise a refund and queue its submission."""
    if order["payout_id"] is not None:
        raise Problem("order_paid_out", "the owner has withdrawn this payment")
    left = order["paid_fen"] - await conn.fetchval(queries.REFUNDS_PROMISED, order["id"], order["community_id"])
    if left <= 0 or amount_fen <= 0:
        raise Problem("order_not_paid", "nothing left to refund on this order")
    if amount_fen > left:
        raise Problem("refund_exceeds_remaining", f"at most {left} fen is left to refund on this order")
    refund = await conn.fetchrow(
        queries.INSERT_REFUND,
        order["id"],
        merchant_number("RF"),
        amount_fen,
        initiated_by,
        requested_by,
        reason[:200],
        order["community_id"],
    )
    await enqueue(conn, "checkout.refund", {"refund_id": refund["id"]}, dedupe_key=f"checkout.refund:{refund['id']}")
    if initiated_by != "system":
        purpose = get_purpose(order["purpose"])
        if purpose is not None and purpose.on_refund is not None:
            info = RefundInfo(refund["id"], amount_fen, initiated_by, reason)
            await purpose.on_refund(conn, PaidOrder.of(order), info)
    return refund


async def request_refund(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, order_id: int, user_id: int, reason: str
) -> Refund:
    """The payer asks for the whole payment back, within the refund window. Asking again returns the same
    refund. The refund is submitted right away; a job retries it if WeChat is unavailable."""
    async with pool.acquire() as conn, conn.transaction():
        order = await lock_order(conn, order_id)
        if order is None or order["payer_user_id"] != user_id:
            raise Problem("not_found", "no such order")
        existing = await conn.fetchrow(queries.ACTIVE_REFUND_BY, order_id, "payer")
        if existing is not None:
            return refund_view(existing)
        if order["status"] != "paid":
            raise Problem("order_not_paid", f"the order is {order['status']}")
        window = await refund_window(conn, settings, order)
        if window is None:
            raise Problem("refund_not_allowed")
        if datetime.now(UTC) > order["paid_at"] + window:
            raise Problem("refund_window_closed", f"refunds were possible until {order['paid_at'] + window}")
        left = order["paid_fen"] - await conn.fetchval(queries.REFUNDS_PROMISED, order_id, order["community_id"])
        refund = await promise_refund(conn, order, left, "payer", user_id, reason or "payer_request")
    try:  # best effort at once, for a quick answer; the queued job is the guarantee
        await submit_refund(pool, pay, refund["id"])
    except (PayError, Reschedule) as exc:
        log.info("refund left to the job", extra={"refundId": refund["id"], "why": str(exc)})
    async with pool.acquire() as conn:
        return refund_view(await conn.fetchrow(queries.REFUND, refund["id"]))


async def refund_order(
    conn: asyncpg.Connection,
    order_id: int,
    *,
    amount_fen: int | None = None,
    initiated_by: str = "admin",
    requested_by: int | None = None,
    reason: str,
) -> Refund:
    """Admin (or domain) refund hook, in the caller's transaction: refund all or part of a paid order,
    with a reason. The `checkout.refund` job submits it after the transaction commits."""
    order = await lock_order(conn, order_id)
    if order is None:
        raise Problem("not_found", "no such order")
    if order["status"] != "paid":
        raise Problem("order_not_paid", f"the order is {order['status']}")
    left = order["paid_fen"] - await conn.fetchval(queries.REFUNDS_PROMISED, order_id, order["community_id"])
    refund = await promise_refund(
        conn, order, left if amount_fen is None else amount_fen, initiated_by, requested_by, reason
    )
    return refund_view(refund)


class _Refunds(Operation[wxpay.Refund]):
    kind = "refund"
    states = {"SUCCESS": "succeeded", "CLOSED": "closed", "ABNORMAL": "abnormal", "PROCESSING": "processing"}
    final = frozenset({"succeeded", "closed", "failed"})
    # Not `abnormal`: it waits for a person, in WeChat's abnormal-refund flow.
    moving = frozenset({"pending", "processing"})
    check_every = 60.0
    load = queries.REFUND_FOR_SUBMIT

    async def send(self, pay: WeChatPay, row: asyncpg.Record) -> wxpay.Refund:
        return await pay.refund(
            out_trade_no=row["out_trade_no"],
            out_refund_no=row["out_refund_no"],
            refund_fen=row["amount_fen"],
            total_fen=row["order_amount_fen"],
            # WeChat shows it to the payer: Chinese, never our machine text (notices.py).
            reason=refund_notice(row["reason"]),
        )

    async def query(self, pay: WeChatPay, row: asyncpg.Record) -> wxpay.Refund:
        return await pay.query_refund(row["out_refund_no"])

    async def keep_error(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        await conn.execute(queries.KEEP_REFUND_ERROR, row["id"], str(exc)[:500])

    async def fail(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        await conn.execute(queries.FAIL_REFUND, row["id"], str(exc)[:500])

    async def lock(self, conn: asyncpg.Connection, answer: wxpay.Refund) -> asyncpg.Record | None:
        refund = await conn.fetchrow(queries.REFUND_ORDER, answer.out_refund_no)
        if refund is None:
            return None
        community_id = refund["community_id"]
        # The order's lock first, as everywhere.
        order = await conn.fetchrow(queries.LOCK_ORDER, community_id, refund["order_id"])
        row = await conn.fetchrow(queries.LOCK_REFUND, community_id, answer.out_refund_no)
        if answer.out_trade_no and answer.out_trade_no != order["out_trade_no"]:
            raise mismatch("refund of another order", refundId=row["id"])
        return row

    def amount(self, answer: wxpay.Refund) -> int | None:
        return None if answer.amount is None else answer.amount.refund

    async def record(self, conn: asyncpg.Connection, row: asyncpg.Record, status: str, answer: wxpay.Refund) -> None:
        await conn.execute(queries.UPDATE_REFUND, row["id"], status, answer.refund_id or None, None)
        order_id = row["order_id"]
        if status == "succeeded":
            await conn.execute(queries.ADD_REFUNDED, order_id, row["amount_fen"], row["community_id"])
            await conn.execute(
                queries.INSERT_LEDGER_REFUND,
                order_id,
                row["id"],
                row["amount_fen"],
                answer.refund_id or None,
                row["community_id"],
            )
            log.info("refund succeeded", extra={"orderId": order_id, "refundId": row["id"]})
        elif status == "abnormal":
            # The payer's account cannot take the money: a person must use WeChat's abnormal-refund flow.
            log.error("refund abnormal: needs a person", extra={"orderId": order_id, "refundId": row["id"]})


REFUNDS = _Refunds()
# The `checkout.refund` job, and what WeChat says of a refund (answer, query or REFUND.* notification).
submit_refund = REFUNDS.follow
apply_refund = REFUNDS.apply
