"""The rules of checkout: orders, exactly-once payment, refunds, transfers, reconciliation.

Money state changes happen in one transaction under the order's row lock (refunds: the order's lock, then the
refund's), and each money movement writes one ledger row guarded by a unique index, so duplicated, reordered
or concurrent notifications, reconciliation queries and job re-runs apply each fact once. WeChat is never
called inside a database transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from service.core.money import queries
from service.core.money.models import Order, PaymentParams, Refund, Transfer
from service.core.money.purposes import PaidOrder, RefundInfo, Refuse, TransferInfo, get_purpose
from service.errors import Problem
from service.jobs import Reschedule, enqueue
from service.settings import Settings
from service.wechat import pay as wxpay
from service.wechat.pay import NotificationRejected, PayConfig, PayError, WeChatPay

log = logging.getLogger("service.checkout")


# An open order with less time left than this is not handed out again: the member could not finish paying.
MIN_PAYABLE = timedelta(seconds=60)
EXPIRE_GRACE = timedelta(seconds=5)
REFUND_CHECK_EVERY = 60.0
TRANSFER_CHECK_EVERY = 600.0
FINAL_REFUND = frozenset({"succeeded", "closed", "failed"})
FINAL_TRANSFER = frozenset({"succeeded", "failed", "cancelled"})
_REJECTIONS = {
    "missing_headers": "pay_signature_invalid",
    "bad_signature": "pay_signature_invalid",
    "unknown_serial": "pay_serial_unknown",
    "stale": "pay_notification_stale",
    "malformed": "pay_notification_malformed",
    "undecryptable": "pay_notification_malformed",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _number(prefix: str) -> str:
    """A merchant-side number (out_trade_no, out_refund_no, out_bill_no): 32 characters, unguessable."""
    return f"{prefix}{_now():%Y%m%d%H%M%S}{secrets.token_hex(8)}"


def _paid_order(row: asyncpg.Record) -> PaidOrder:
    return PaidOrder(
        id=row["id"],
        out_trade_no=row["out_trade_no"],
        payer_user_id=row["payer_user_id"],
        purpose=row["purpose"],
        subject_id=row["subject_id"],
        amount_fen=row["amount_fen"],
        paid_at=row["paid_at"],
    )


# --- orders ------------------------------------------------------------------------------------------------


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
    `community_id` is the community the thing belongs to (the order's distribution key, infra/citus.sql).

    The answer carries the `wx.requestPayment` parameters. A retry with the same Idempotency-Key returns the
    same order; a WeChat outage leaves the order without prepay_id and answers 503: the retry places it.
    `pay_within` (seconds) shortens the time to pay below CHECKOUT_ORDER_TTL (e.g. a collection's deadline).
    """
    if get_purpose(purpose) is None:
        raise ValueError(f"no checkout purpose {purpose!r} is registered")
    try:
        row, created = await _open_order(
            pool,
            pay,
            settings,
            payer_user_id,
            purpose,
            subject_id,
            community_id,
            amount_fen,
            description,
            idempotency_key,
            pay_within,
        )
    except PayError as exc:  # closing a stale order first failed
        raise Problem("payment_unavailable", str(exc), retry_after=3) from None
    if row["status"] == "created" and row["prepay_id"] is None:
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
            await conn.execute(queries.SET_PREPAY_ID, row["id"], prepay_id)
            row = await conn.fetchrow(queries.ORDER, row["id"])
    async with pool.acquire() as conn:
        return Checkout(order=await order_view(conn, pay, settings, row), created=created)


async def _open_order(
    pool,
    pay,
    settings,
    payer_user_id,
    purpose,
    subject_id,
    community_id,
    amount_fen,
    description,
    idempotency_key,
    pay_within,
) -> tuple[asyncpg.Record, bool]:
    for _ in range(3):
        stale: asyncpg.Record | None = None
        try:
            async with pool.acquire() as conn, conn.transaction():
                if idempotency_key:
                    row = await conn.fetchrow(queries.ORDER_BY_IDEMPOTENCY_KEY, payer_user_id, idempotency_key)
                    if row is not None:
                        return row, False
                row = await conn.fetchrow(queries.LOCK_OPEN_ORDER, payer_user_id, purpose, subject_id)
                if row is not None:
                    if row["amount_fen"] == amount_fen and row["time_expire"] - _now() > MIN_PAYABLE:
                        return row, False
                    stale = row  # price changed or too late to pay: close it first (outside this transaction)
                else:
                    openid = await conn.fetchval(queries.PAYER_OPENID, payer_user_id)
                    if openid is None:
                        raise Problem("not_found", "no such user")
                    row = await conn.fetchrow(
                        queries.INSERT_ORDER,
                        _number("CK"),
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


async def _schedule_order_jobs(conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record) -> None:
    order_id = row["id"]
    await enqueue(
        conn,
        "checkout.reconcile",
        {"order_id": order_id},
        run_at=_now() + timedelta(seconds=settings.checkout_reconcile_after),
        dedupe_key=f"checkout.reconcile:{order_id}",
    )
    await enqueue(
        conn,
        "checkout.expire",
        {"order_id": order_id},
        run_at=row["time_expire"] + EXPIRE_GRACE,
        dedupe_key=f"checkout.expire:{order_id}",
    )


async def refund_window(conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record) -> timedelta | None:
    purpose = get_purpose(row["purpose"])
    if purpose is not None and purpose.payer_refund_window is not None:
        return await purpose.payer_refund_window(conn, _paid_order(row))
    return timedelta(seconds=settings.checkout_refund_window)


async def order_view(conn: asyncpg.Connection, pay: WeChatPay, settings: Settings, row: asyncpg.Record) -> Order:
    refunds = await conn.fetch(queries.ORDER_REFUNDS, row["id"])
    refundable_until = None
    if row["status"] == "paid" and row["paid_at"] is not None:
        window = await refund_window(conn, settings, row)
        refundable_until = None if window is None else row["paid_at"] + window
    payment = None
    if row["status"] == "created" and row["prepay_id"] and row["time_expire"] > _now():
        payment = PaymentParams(**_camel_to_snake(pay.payment_params(row["prepay_id"])))
    return Order(
        id=str(row["id"]),
        out_trade_no=row["out_trade_no"],
        purpose=row["purpose"],
        subject_id=None if row["subject_id"] is None else str(row["subject_id"]),
        description=row["description"],
        amount_fen=row["amount_fen"],
        status=row["status"],
        created_at=row["created_at"],
        time_expire=row["time_expire"],
        paid_at=row["paid_at"],
        refunded_fen=row["refunded_fen"],
        refundable_until=refundable_until,
        refunds=[_refund_view(r) for r in refunds],
        payment=payment,
    )


def _camel_to_snake(params: dict[str, str]) -> dict[str, str]:
    return {
        "time_stamp": params["timeStamp"],
        "nonce_str": params["nonceStr"],
        "package": params["package"],
        "sign_type": params["signType"],
        "pay_sign": params["paySign"],
    }


def _refund_view(row: asyncpg.Record) -> Refund:
    return Refund(
        id=str(row["id"]),
        amount_fen=row["amount_fen"],
        status=row["status"],
        initiated_by=row["initiated_by"],
        reason=row["reason"],
        created_at=row["created_at"],
        succeeded_at=row["succeeded_at"],
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


# --- payments ----------------------------------------------------------------------------------------------


def open_notification(pay: WeChatPay, headers, body: bytes) -> wxpay.Notification:
    try:
        return pay.open_notification(headers, body)
    except NotificationRejected as exc:
        log.warning("WeChat Pay notification rejected", extra={"reason": exc.reason, "detail": str(exc)})
        raise Problem(_REJECTIONS[exc.reason], str(exc)) from None


def decode_notification(notification: wxpay.Notification, kind: type):
    try:
        return notification.decode(kind)
    except (ValueError, TypeError) as exc:
        raise Problem("pay_notification_malformed", f"unexpected resource: {exc}") from None


def _mismatch(what: str, **extra) -> Problem:
    log.error("WeChat Pay data disagrees with our record", extra={"mismatch": what, **extra})
    return Problem("pay_notification_mismatch", what)


async def apply_transaction(conn: asyncpg.Connection, config: PayConfig, txn: wxpay.Transaction) -> str:
    """Record a successful payment once: 'applied', 'duplicate' or 'ignored' (not a payment).

    In the same transaction the purpose's `on_paid` grants what was bought, or refuses and the payment is
    refunded automatically. Anything that disagrees with the order raises and changes nothing.
    """
    if txn.appid != config.appid or txn.mchid != config.mchid:
        raise _mismatch("appid or mchid", outTradeNo=txn.out_trade_no)
    if txn.trade_state not in ("SUCCESS", "REFUND"):
        return "ignored"
    async with conn.transaction():
        order = await conn.fetchrow(queries.LOCK_ORDER_BY_NO, txn.out_trade_no)
        if order is None:
            raise Problem("pay_notification_unknown", "no such order")
        if txn.amount is None or txn.amount.total != order["amount_fen"]:
            raise _mismatch("amount", orderId=order["id"], total=txn.amount and txn.amount.total)
        if txn.payer is not None and txn.payer.openid and txn.payer.openid != order["payer_openid"]:
            raise _mismatch("payer", orderId=order["id"])
        if not txn.transaction_id:
            raise _mismatch("transaction_id missing", orderId=order["id"])
        if order["transaction_id"] is not None:
            if order["transaction_id"] != txn.transaction_id:
                raise _mismatch("a second transaction for one order", orderId=order["id"])
            return "duplicate"
        paid_at = wxpay.parse_time(txn.success_time) if txn.success_time else _now()
        was_closed = order["status"] == "closed"
        order = await conn.fetchrow(queries.MARK_PAID, order["id"], txn.transaction_id, paid_at)
        await conn.execute(queries.INSERT_LEDGER_PAYMENT, order["id"], order["amount_fen"], txn.transaction_id)
        if was_closed:
            refusal: Refuse | None = Refuse("order_closed", "the order had been closed when the payment arrived")
        else:
            purpose = get_purpose(order["purpose"])
            if purpose is None:
                raise RuntimeError(f"no checkout purpose {order['purpose']!r} is registered")
            refusal = await purpose.on_paid(conn, _paid_order(order))
        if refusal is not None:
            reason = f"{refusal.reason}: {refusal.message}" if refusal.message else refusal.reason
            await _create_refund(conn, order, order["amount_fen"], "system", None, reason)
            log.info("payment refused, refunding", extra={"orderId": order["id"], "reason": refusal.reason})
        log.info("payment applied", extra={"orderId": order["id"], "amountFen": order["amount_fen"]})
        return "applied"


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
    left = (order["time_expire"] - _now()).total_seconds()
    if left > 0:
        raise Reschedule(min(max(left, 1.0), 300.0))


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
    left = (order["time_expire"] - _now()).total_seconds()
    if left > 0:
        raise Reschedule(left + EXPIRE_GRACE.total_seconds())
    await close_order(pool, pay, order_id)


# --- refunds -----------------------------------------------------------------------------------------------


async def _create_refund(
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
    promised = await conn.fetchval(queries.REFUNDS_PROMISED, order["id"])
    if amount_fen <= 0 or promised + amount_fen > order["paid_fen"]:
        raise Problem("order_not_paid", "nothing left to refund on this order")
    refund = await conn.fetchrow(
        queries.INSERT_REFUND, order["id"], _number("RF"), amount_fen, initiated_by, requested_by, reason[:200]
    )
    await enqueue(conn, "checkout.refund", {"refund_id": refund["id"]}, dedupe_key=f"checkout.refund:{refund['id']}")
    if initiated_by != "system":
        purpose = get_purpose(order["purpose"])
        if purpose is not None and purpose.on_refund is not None:
            info = RefundInfo(refund["id"], amount_fen, initiated_by, reason)
            await purpose.on_refund(conn, _paid_order(order), info)
    return refund


async def request_refund(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, order_id: int, user_id: int, reason: str
) -> Refund:
    """The payer asks for the whole payment back, within the refund window. Asking again returns the same
    refund. The refund is submitted right away; a job retries it if WeChat is unavailable."""
    async with pool.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(queries.LOCK_ORDER, order_id)
        if order is None or order["payer_user_id"] != user_id:
            raise Problem("not_found", "no such order")
        existing = await conn.fetchrow(queries.ACTIVE_REFUND_BY, order_id, "payer")
        if existing is not None:
            return _refund_view(existing)
        if order["status"] != "paid":
            raise Problem("order_not_paid", f"the order is {order['status']}")
        window = await refund_window(conn, settings, order)
        if window is None:
            raise Problem("refund_not_allowed")
        if _now() > order["paid_at"] + window:
            raise Problem("refund_window_closed", f"refunds were possible until {order['paid_at'] + window}")
        left = order["paid_fen"] - await conn.fetchval(queries.REFUNDS_PROMISED, order_id)
        refund = await _create_refund(conn, order, left, "payer", user_id, reason or "payer request")
    await _submit_now(pool, pay, refund["id"])
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM refunds WHERE id = $1", refund["id"])
    return _refund_view(row)


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
    order = await conn.fetchrow(queries.LOCK_ORDER, order_id)
    if order is None:
        raise Problem("not_found", "no such order")
    if order["status"] != "paid":
        raise Problem("order_not_paid", f"the order is {order['status']}")
    left = order["paid_fen"] - await conn.fetchval(queries.REFUNDS_PROMISED, order_id)
    refund = await _create_refund(
        conn, order, left if amount_fen is None else amount_fen, initiated_by, requested_by, reason
    )
    return _refund_view(refund)


async def _submit_now(pool: asyncpg.Pool, pay: WeChatPay, refund_id: int) -> None:
    """Best effort at once, for a quick answer; the queued job is the guarantee."""
    try:
        await submit_refund(pool, pay, refund_id)
    except (PayError, Reschedule) as exc:
        log.info("refund left to the job", extra={"refundId": refund_id, "why": str(exc)})


async def submit_refund(pool: asyncpg.Pool, pay: WeChatPay, refund_id: int) -> None:
    """Send a promised refund to WeChat (idempotent by out_refund_no), or check on one in progress."""
    row = await pool.fetchrow(queries.REFUND_FOR_SUBMIT, refund_id)
    if row is None or row["status"] in FINAL_REFUND:
        return
    try:
        if row["status"] == "pending":
            answer = await pay.refund(
                out_trade_no=row["out_trade_no"],
                out_refund_no=row["out_refund_no"],
                refund_fen=row["amount_fen"],
                total_fen=row["order_amount_fen"],
                reason=row["reason"],
            )
        else:
            answer = await pay.query_refund(row["out_refund_no"])
    except PayError as exc:
        if exc.retryable:
            async with pool.acquire() as conn:
                await conn.execute(queries.UPDATE_REFUND, refund_id, row["status"], None, str(exc)[:500])
            raise
        log.error("WeChat Pay refused a refund", extra={"refundId": refund_id, "error": str(exc)})
        async with pool.acquire() as conn:
            await conn.execute(queries.UPDATE_REFUND, refund_id, "failed", None, str(exc)[:500])
        return
    async with pool.acquire() as conn:
        status = await apply_refund(conn, answer)
    if status in ("pending", "processing"):
        raise Reschedule(REFUND_CHECK_EVERY)


_REFUND_STATES = {"SUCCESS": "succeeded", "CLOSED": "closed", "ABNORMAL": "abnormal", "PROCESSING": "processing"}


async def apply_refund(conn: asyncpg.Connection, refund: wxpay.Refund) -> str:
    """Record what WeChat says of a refund (answer, query or REFUND.* notification), once. Returns the
    refund's status afterwards."""
    order_id = await conn.fetchval(queries.REFUND_ORDER_ID, refund.out_refund_no)
    if order_id is None:
        raise Problem("pay_notification_unknown", "no such refund")
    async with conn.transaction():
        order = await conn.fetchrow(queries.LOCK_ORDER, order_id)
        row = await conn.fetchrow(queries.LOCK_REFUND, refund.out_refund_no)
        if refund.out_trade_no and refund.out_trade_no != order["out_trade_no"]:
            raise _mismatch("refund of another order", refundId=row["id"])
        if refund.amount is not None and refund.amount.refund != row["amount_fen"]:
            raise _mismatch("refund amount", refundId=row["id"])
        status = _REFUND_STATES.get(refund.state)
        if status is None:
            raise _mismatch(f"unknown refund state {refund.state}", refundId=row["id"])
        if row["status"] in FINAL_REFUND or row["status"] == status:
            return row["status"]
        await conn.execute(queries.UPDATE_REFUND, row["id"], status, refund.refund_id or None, None)
        if status == "succeeded":
            await conn.execute(queries.ADD_REFUNDED, order_id, row["amount_fen"])
            await conn.execute(
                queries.INSERT_LEDGER_REFUND, order_id, row["id"], row["amount_fen"], refund.refund_id or None
            )
            log.info("refund succeeded", extra={"orderId": order_id, "refundId": row["id"]})
        elif status == "abnormal":
            # The payer's account cannot take the money: a person must use WeChat's abnormal-refund flow.
            log.error("refund abnormal: needs a person", extra={"orderId": order_id, "refundId": row["id"]})
        return status


# --- transfers ---------------------------------------------------------------------------------------------


async def create_transfer(
    conn: asyncpg.Connection,
    *,
    payee_user_id: int,
    amount_fen: int,
    purpose: str,
    subject_id: int | None,
    community_id: int,
    remark: str,
    dedupe_key: str,
) -> int:
    """Promise a merchant transfer (in the caller's transaction); asking again with the same `dedupe_key`
    returns the first one. The `checkout.transfer` job sends it and follows it to a final state. `community_id`:
    the community the payout comes from, as for orders."""
    transfer_id = await conn.fetchval(
        queries.INSERT_TRANSFER,
        _number("TR"),
        payee_user_id,
        amount_fen,
        purpose,
        subject_id,
        community_id,
        remark,
        dedupe_key,
    )
    if transfer_id is None:
        existing = await conn.fetchrow(queries.TRANSFER_BY_DEDUPE_KEY, dedupe_key)
        if existing is None:
            raise Problem("not_found", "no such payee")
        return existing["id"]
    await enqueue(
        conn, "checkout.transfer", {"transfer_id": transfer_id}, dedupe_key=f"checkout.transfer:{transfer_id}"
    )
    return transfer_id


async def submit_transfer(pool: asyncpg.Pool, pay: WeChatPay, transfer_id: int) -> None:
    row = await pool.fetchrow(queries.TRANSFER, transfer_id)
    if row is None or row["status"] in FINAL_TRANSFER:
        return
    try:
        if row["status"] == "pending":
            bill = await pay.transfer(
                out_bill_no=row["out_bill_no"],
                openid=row["payee_openid"],
                amount_fen=row["amount_fen"],
                remark=row["remark"],
            )
        else:
            bill = await pay.query_transfer(row["out_bill_no"])
    except PayError as exc:
        if exc.retryable:
            await pool.execute(
                queries.UPDATE_TRANSFER, transfer_id, row["status"], None, row["package_info"], None, str(exc)[:500]
            )
            raise
        log.error("WeChat Pay refused a transfer", extra={"transferId": transfer_id, "error": str(exc)})
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(queries.UPDATE_TRANSFER, transfer_id, "failed", None, None, exc.code, str(exc)[:500])
            await _transfer_finished(conn, transfer_id)
        return
    async with pool.acquire() as conn:
        status = await apply_transfer(conn, bill)
    if status not in FINAL_TRANSFER:
        raise Reschedule(TRANSFER_CHECK_EVERY)


_TRANSFER_STATES = {
    "WAIT_USER_CONFIRM": "wait_user_confirm",
    "ACCEPTED": "processing",
    "PROCESSING": "processing",
    "TRANSFERING": "processing",
    "CANCELING": "processing",
    "SUCCESS": "succeeded",
    "FAIL": "failed",
    "CANCELLED": "cancelled",
}


async def apply_transfer(conn: asyncpg.Connection, bill: wxpay.TransferBill) -> str:
    async with conn.transaction():
        row = await conn.fetchrow(queries.LOCK_TRANSFER_BY_NO, bill.out_bill_no)
        if row is None:
            raise Problem("pay_notification_unknown", "no such transfer")
        if bill.transfer_amount is not None and bill.transfer_amount != row["amount_fen"]:
            raise _mismatch("transfer amount", transferId=row["id"])
        status = _TRANSFER_STATES.get(bill.state)
        if status is None:
            raise _mismatch(f"unknown transfer state {bill.state}", transferId=row["id"])
        if row["status"] in FINAL_TRANSFER or (row["status"] == status and status != "wait_user_confirm"):
            return row["status"]
        package_info = bill.package_info or (row["package_info"] if status == "wait_user_confirm" else None)
        await conn.execute(
            queries.UPDATE_TRANSFER,
            row["id"],
            status,
            bill.transfer_bill_no or None,
            package_info,
            bill.fail_reason,
            None,
        )
        if status == "succeeded":
            await conn.execute(
                queries.INSERT_LEDGER_TRANSFER, row["id"], row["amount_fen"], bill.transfer_bill_no or None
            )
        if status in FINAL_TRANSFER:
            await _transfer_finished(conn, row["id"])
            log.info("transfer finished", extra={"transferId": row["id"], "status": status})
        return status


async def _transfer_finished(conn: asyncpg.Connection, transfer_id: int) -> None:
    row = await conn.fetchrow(queries.TRANSFER, transfer_id)
    purpose = get_purpose(row["purpose"])
    if purpose is not None and purpose.on_transfer is not None:
        await purpose.on_transfer(
            conn,
            TransferInfo(
                row["id"],
                row["payee_user_id"],
                row["purpose"],
                row["subject_id"],
                row["amount_fen"],
                row["status"],
                row["dedupe_key"],
            ),
        )


async def get_transfer(conn: asyncpg.Connection, pay: WeChatPay, transfer_id: int, user_id: int) -> Transfer:
    row = await conn.fetchrow(queries.PAYEE_TRANSFER, transfer_id, user_id)
    if row is None:
        raise Problem("not_found", "no such transfer")
    return Transfer(
        id=str(row["id"]),
        amount_fen=row["amount_fen"],
        status=row["status"],
        remark=row["remark"],
        created_at=row["created_at"],
        mch_id=pay.config.mchid,
        app_id=pay.config.appid,
        package_info=row["package_info"] if row["status"] == "wait_user_confirm" else None,
        fail_reason=row["fail_reason"],
    )


async def ledger_violations(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    """Orders whose money does not add up (paid = refunded + retained); empty when the books are right."""
    return [(r["order_id"], r["problem"]) for r in await conn.fetch(queries.LEDGER_VIOLATIONS)]
