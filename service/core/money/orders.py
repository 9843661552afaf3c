"""Orders: created (or handed out again) for a payer and a thing, placed with WeChat, shown, closed and expired."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from service.core.money import queries
from service.core.money.models import Order, PaymentParams
from service.core.money.numbers import merchant_number
from service.core.money.payments import apply_transaction
from service.core.money.purposes import get_purpose
from service.core.money.refunds import refund_view, refund_window
from service.core.revocation import hold_account
from service.core.rows import from_row
from service.errors import Problem
from service.jobs import Reschedule, enqueue
from service.settings import Settings
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.checkout")

# An open order with less time left than this is not handed out again: the member could not finish paying.
MIN_PAYABLE = timedelta(seconds=60)
EXPIRE_GRACE = timedelta(seconds=5)


@dataclass(frozen=True)
class Checkout:
    order: Order
    created: bool


async def create_order(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    *,
    payer_user_id: int,
    purpose: str,
    subject_id: int | None,
    community_id: int,
    amount_fen: int,
    description: str,
    idempotency_key: str | None = None,
    pay_within: float | None = None,
) -> Checkout:
    """Create (or return the still-payable existing) order for this payer and thing, placed with WeChat.
    `community_id` is the community the thing belongs to (the order's distribution key, service/db/citus.sql).

    The answer carries the `wx.requestPayment` parameters. A retry with the same Idempotency-Key returns the
    same order; a WeChat outage leaves the order without prepay_id and answers 503: the retry places it.
    `pay_within` (seconds) shortens the time to pay below CHECKOUT_ORDER_TTL (e.g. a collection's deadline).
    """
    if get_purpose(purpose) is None:
        raise ValueError(f"no checkout purpose {purpose!r} is registered")

    async def open_order() -> tuple[asyncpg.Record, bool]:
        """The order of the same Idempotency-Key, the open one while still payable, or a new one."""
        for _ in range(3):
            stale: asyncpg.Record | None = None
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await hold_account(conn, payer_user_id)  # no order for an account erased since its token
                    if idempotency_key:
                        row = await conn.fetchrow(queries.ORDER_BY_IDEMPOTENCY_KEY, payer_user_id, idempotency_key)
                        if row is not None:
                            return row, False
                    row = await conn.fetchrow(queries.LOCK_OPEN_ORDER, payer_user_id, purpose, subject_id, community_id)
                    if row is not None:
                        if row["amount_fen"] == amount_fen and row["time_expire"] - datetime.now(UTC) > MIN_PAYABLE:
                            return row, False
                        stale = row  # price changed or too late to pay: close it first (outside this transaction)
                    else:
                        openid = await conn.fetchval(queries.PAYER_OPENID, payer_user_id)
                        if openid is None:
                            raise Problem("not_found", "no such user")
                        row = await conn.fetchrow(
                            queries.INSERT_ORDER,
                            merchant_number("CK"),
                            payer_user_id,
                            openid,
                            purpose,
                            subject_id,
                            community_id,
                            description,
                            amount_fen,
                            min(float(settings.checkout_order_ttl), pay_within or float("inf")),
                            idempotency_key,
                        )
                        await _schedule_order_jobs(conn, settings, row)
                        return row, True
            except asyncpg.UniqueViolationError:
                continue  # a concurrent request created it: read it on the next round
            if await close_order(pool, pay, stale["id"]) == "paid":
                raise Problem("order_already_paid", "the previous order for this was paid")
        raise Problem("conflict", "the order is being created by another request; retry")

    try:
        row, created = await open_order()
    except PayError as exc:  # closing a stale order first failed
        raise Problem("payment_unavailable", str(exc), retry_after=3) from None
    if row["status"] == "created" and row["prepay_id"] is None:
        row = await _place(pool, pay, row)
    async with pool.acquire() as conn:
        return Checkout(order=await order_view(conn, pay, settings, row), created=created)


async def order_of_key(conn: asyncpg.Connection, payer_user_id: int, key: str) -> asyncpg.Record | None:
    """The order this payer's Idempotency-Key already made (its purpose and subject_id say what it bought), or
    None: lets a domain that writes before it calls create_order refuse a reused key in that same transaction."""
    return await conn.fetchrow(queries.ORDER_BY_IDEMPOTENCY_KEY, payer_user_id, key)


async def _place(pool: asyncpg.Pool, pay: WeChatPay, row: asyncpg.Record) -> asyncpg.Record:
    """Place the order with WeChat: its prepay_id is what the payer pays with."""
    try:
        prepay_id = await pay.create_jsapi_order(
            out_trade_no=row["out_trade_no"],
            description=row["description"],
            amount_fen=row["amount_fen"],
            payer_openid=row["payer_openid"],
            time_expire=row["time_expire"],
        )
    except PayError as exc:
        log.warning("placing the order with WeChat Pay failed", extra={"orderId": row["id"], "error": str(exc)})
        if exc.code == "ORDERPAID":
            raise Problem("order_already_paid") from None
        raise Problem("payment_unavailable", "WeChat Pay did not accept the order; retry", retry_after=3) from None
    async with pool.acquire() as conn:
        await conn.execute(queries.SET_PREPAY_ID, row["id"], prepay_id, row["community_id"])
        return await conn.fetchrow(queries.ORDER, row["id"])


async def _schedule_order_jobs(conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record) -> None:
    order_id = row["id"]
    await enqueue(
        conn,
        "checkout.reconcile",
        {"order_id": order_id},
        run_at=datetime.now(UTC) + timedelta(seconds=settings.checkout_reconcile_after),
        dedupe_key=f"checkout.reconcile:{order_id}",
    )
    await enqueue(
        conn,
        "checkout.expire",
        {"order_id": order_id},
        run_at=row["time_expire"] + EXPIRE_GRACE,
        dedupe_key=f"checkout.expire:{order_id}",
    )


async def order_view(conn: asyncpg.Connection, pay: WeChatPay, settings: Settings, row: asyncpg.Record) -> Order:
    refunds = await conn.fetch(queries.ORDER_REFUNDS, row["id"])
    refundable_until = None
    if row["status"] == "paid" and row["paid_at"] is not None:
        window = await refund_window(conn, settings, row)
        refundable_until = None if window is None else row["paid_at"] + window
    payment = None
    if row["status"] == "created" and row["prepay_id"] and row["time_expire"] > datetime.now(UTC):
        payment = msgspec.convert(pay.payment_params(row["prepay_id"]), PaymentParams)
    return from_row(
        Order,
        row,
        refundable_until=refundable_until,
        refunds=[refund_view(r) for r in refunds],
        payment=payment,
    )


async def get_order(conn: asyncpg.Connection, pay: WeChatPay, settings: Settings, order_id: int, user_id: int) -> Order:
    row = await conn.fetchrow(queries.ORDER, order_id)
    if row is None or row["payer_user_id"] != user_id:
        raise Problem("not_found", "no such order")
    return await order_view(conn, pay, settings, row)


async def subject_orders(
    conn: asyncpg.Connection,
    pay: WeChatPay,
    settings: Settings,
    purpose: str,
    subject_id: int,
    *,
    limit: int,
    before_id: int | None = None,
) -> list[Order]:
    """Orders for one thing (e.g. a community's entries), newest first: for owners' and admins' views,
    which the owning domain authorises. Page with `before_id` = the last id seen."""
    rows = await conn.fetch(queries.SUBJECT_ORDERS, purpose, subject_id, before_id, limit)
    return [await order_view(conn, pay, settings, row) for row in rows]


async def close_order(pool: asyncpg.Pool, pay: WeChatPay, order_id: int) -> str:
    """Close an unpaid order at WeChat, then here. Returns the order's status afterwards ('paid' when the
    member paid at the last moment: WeChat refuses to close a paid order, and the payment is applied)."""
    order = await pool.fetchrow(queries.ORDER, order_id)
    if order is None or order["status"] != "created":
        return order["status"] if order else "closed"
    try:
        await pay.close_order(order["out_trade_no"])
    except PayError as exc:
        if exc.code == "ORDERPAID":
            txn = await pay.query_order(order["out_trade_no"])
            async with pool.acquire() as conn:
                await apply_transaction(conn, pay.config, txn)
            return "paid"
        if exc.code != "ORDER_NOT_EXIST":
            raise
    await pool.execute(queries.MARK_CLOSED, order_id)
    return "closed"


async def expire_order(pool: asyncpg.Pool, pay: WeChatPay, order_id: int) -> None:
    order = await pool.fetchrow(queries.ORDER, order_id)
    if order is None or order["status"] != "created":
        return
    left = (order["time_expire"] - datetime.now(UTC)).total_seconds()
    if left > 0:
        raise Reschedule(left + EXPIRE_GRACE.total_seconds())
    await close_order(pool, pay, order_id)


async def ledger_violations(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    """Orders whose money does not add up (paid = refunded + retained); empty when the books are right."""
    return [(r["order_id"], problem) for r in await conn.fetch(queries.LEDGER_VIOLATIONS) for problem in r["problems"]]
