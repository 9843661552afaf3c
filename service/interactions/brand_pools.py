"""Brand-funded reward pools (docs/brands.md): the brand's owner pays a pool through WeChat Pay (checkout purpose
`brand_reward_pool`), then commits it once: it is split like the operator's pools (rewards.py), over the brand's
communities by activity score and then over their members by contribution, and paid out by merchant transfers.

unpaid --payment--> draft --commit--> committed
   \\                  \\
    cancel (order closed) cancel (refunded in full)  --> cancelled

Locks: a payment and a cancellation lock the order, then the pool; a commit locks the pool only. So a pool is
either committed or refunded, never both. The brand is reached through the core's access check; nothing here
imports the brands domain.
"""

from __future__ import annotations

import logging

import asyncpg
import msgspec
from litestar import Response

from service.core import money
from service.core.access import brand_role
from service.core.money.models import Order, Refund
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.errors import Problem
from service.interactions import rewards
from service.interactions.logic import validate_window
from service.interactions.models import BrandRewardPool, BrandRewardPoolCreate, CommunityAllocation
from service.jobs import Reschedule
from service.settings import Settings
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.interactions")

PURPOSE = "brand_reward_pool"
CANCELLED = "pool_cancelled"  # the reason of a cancelled pool's refund starts with it

_BRAND_POOL = "SELECT * FROM reward_pools WHERE id = $1 AND brand_id = $2"
_LOCK_POOL = "SELECT * FROM reward_pools WHERE id = $1 FOR UPDATE"
_FIRST_COMMUNITY = "SELECT min(id) FROM communities WHERE brand_id = $1"
_BRAND_NAME = "SELECT name FROM brands WHERE id = $1"
_INSERT = """
INSERT INTO reward_pools (amount_fen, window_from, window_to, min_score, min_effective_speakers, created_by,
                          status, brand_id, funded_by, order_community_id, idempotency_key)
VALUES ($1, $2, $3, $4, $5, 'brand:' || $6::bigint, 'unpaid', $6, $7, $8, $9)
ON CONFLICT (funded_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *
"""
_BY_KEY = "SELECT * FROM reward_pools WHERE funded_by = $1 AND idempotency_key = $2"
_PAID = """
UPDATE reward_pools SET status = 'draft', order_id = $2, paid_at = $3 WHERE id = $1 AND status = 'unpaid'
RETURNING id
"""
_CANCEL = "UPDATE reward_pools SET status = 'cancelled', cancelled_at = now() WHERE id = $1"
_OPEN_ORDERS = "SELECT id FROM orders WHERE purpose = $1 AND subject_id = $2 AND status = 'created' ORDER BY id"
_REFUND = "SELECT * FROM refunds WHERE order_id = $1 AND community_id = $2 ORDER BY id DESC LIMIT 1"


def _json(status: int, body: msgspec.Struct) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


async def _require_owner(conn: asyncpg.Connection, brand_id: int, user_id: int) -> None:
    if await brand_role(conn, brand_id, user_id) != "owner":
        raise Problem("forbidden", "only the brand's owner funds, commits and cancels its reward pools")


async def _pool_of(conn: asyncpg.Connection, brand_id: int, pool_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(_BRAND_POOL, pool_id, brand_id)
    if row is None:
        raise Problem("pool_not_found")
    return row


def _view(
    row: asyncpg.Record,
    communities: list[CommunityAllocation],
    order: Order | None = None,
    refund: Refund | None = None,
) -> BrandRewardPool:
    allocated = sum(m.amount_fen for c in communities for m in c.members)
    return BrandRewardPool(
        id=str(row["id"]),
        brand_id=str(row["brand_id"]),
        amount_fen=row["amount_fen"],
        start=row["window_from"],
        end=row["window_to"],
        status=row["status"],
        allocated_fen=allocated,
        unallocated_fen=row["amount_fen"] - allocated,
        communities=communities,
        created_at=row["created_at"],
        order_id=None if row["order_id"] is None else str(row["order_id"]),
        paid_at=row["paid_at"],
        committed_at=row["committed_at"],
        cancelled_at=row["cancelled_at"],
        order=order,
        refund=refund,
    )


async def _shown(
    conn: asyncpg.Connection, pay: WeChatPay, settings: Settings, row: asyncpg.Record, user_id: int
) -> BrandRewardPool:
    """The pool as its team sees it; its payer also sees the order to pay (while unpaid) and the refund."""
    order = refund = None
    if row["funded_by"] == user_id:
        if row["status"] == "unpaid":
            latest = await money.subject_orders(conn, pay, settings, PURPOSE, row["id"], limit=1)
            order = latest[0] if latest else None
        elif row["order_id"] is not None and row["status"] == "cancelled":
            found = await conn.fetchrow(_REFUND, row["order_id"], row["order_community_id"])
            refund = None if found is None else money.refund_view(found)
    communities = [] if row["status"] in ("unpaid", "cancelled") else await rewards.allocation(conn, settings, row)
    return _view(row, communities, order, refund)


async def create(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    brand_id: int,
    user_id: int,
    data: BrandRewardPoolCreate,
    key: str | None,
) -> Response[bytes]:
    """The brand's owner creates a pool and gets its order (201); the same Idempotency-Key answers the same pool
    (200) with its still-payable order."""
    validate_window(data.start, data.end, ("start", "end"), "body")
    async with pool.acquire() as conn, conn.transaction():
        await _require_owner(conn, brand_id, user_id)
        home = await conn.fetchval(_FIRST_COMMUNITY, brand_id)
        if home is None:
            raise Problem("brand_has_no_communities", "attach a community to the brand first")
        args = (data.amount_fen, data.start, data.end, data.min_activity_score, data.min_effective_speakers)
        row = await conn.fetchrow(_INSERT, *args, brand_id, user_id, home, key)
        created = row is not None
        if not created:
            row = await conn.fetchrow(_BY_KEY, user_id, key)
            same = (row["amount_fen"], row["window_from"], row["window_to"], row["min_score"])
            if row["brand_id"] != brand_id or same != args[:4] or row["min_effective_speakers"] != args[4]:
                raise Problem("idempotency_key_reused", "this Idempotency-Key created another pool")
        name = await conn.fetchval(_BRAND_NAME, brand_id)
    if row["status"] == "unpaid":
        await _checkout(pool, pay, settings, row, name)
    async with pool.acquire() as conn:
        shown = await _shown(conn, pay, settings, await conn.fetchrow(_BRAND_POOL, row["id"], brand_id), user_id)
    return _json(201 if created else 200, shown)


async def _checkout(pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, row: asyncpg.Record, name: str) -> Order:
    result = await money.create_order(
        pool,
        pay,
        settings,
        payer_user_id=row["funded_by"],
        purpose=PURPOSE,
        subject_id=row["id"],
        community_id=row["order_community_id"],
        amount_fen=row["amount_fen"],
        description=f"品牌奖励池：{name}"[:127],
    )
    return result.order


async def pay_again(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, brand_id: int, pool_id: int, user_id: int
) -> BrandRewardPool:
    """The order of an unpaid pool: the still-payable one, or a new one when it expired. A paid pool answers
    as it is."""
    async with pool.acquire() as conn:
        await _require_owner(conn, brand_id, user_id)
        row = await _pool_of(conn, brand_id, pool_id)
        name = await conn.fetchval(_BRAND_NAME, brand_id)
    if row["status"] == "cancelled":
        raise Problem("pool_cancelled")
    if row["status"] == "unpaid":
        await _checkout(pool, pay, settings, row, name)
    async with pool.acquire() as conn:
        return await _shown(conn, pay, settings, await _pool_of(conn, brand_id, pool_id), user_id)


async def read(
    conn: asyncpg.Connection, pay: WeChatPay, settings: Settings, brand_id: int, pool_id: int, user_id: int
) -> BrandRewardPool:
    """The brand's team: the preview while draft, the recorded allocation once committed."""
    await brand_role(conn, brand_id, user_id)
    return await _shown(conn, pay, settings, await _pool_of(conn, brand_id, pool_id), user_id)


async def commit(
    conn: asyncpg.Connection, settings: Settings, brand_id: int, pool_id: int, user_id: int
) -> BrandRewardPool:
    """The brand's owner commits a paid pool once (again: the recorded allocation, nothing more)."""
    await _require_owner(conn, brand_id, user_id)
    row, communities = await rewards.commit(conn, settings, pool_id, brand_id)
    return _view(row, communities)


async def cancel(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, brand_id: int, pool_id: int, user_id: int
) -> BrandRewardPool:
    """The brand's owner calls off a pool before it is committed: an unpaid one's orders are closed at WeChat
    (one paid at the last moment is then refunded as below), a paid one is refunded in full. Again: as it is."""
    async with pool.acquire() as conn:
        await _require_owner(conn, brand_id, user_id)
        row = await _pool_of(conn, brand_id, pool_id)
        open_orders = [r["id"] for r in await conn.fetch(_OPEN_ORDERS, PURPOSE, pool_id)]
    if row["status"] == "committed":
        raise Problem("pool_committed", "a committed pool is paid out to members: it cannot be cancelled")
    try:
        for order_id in open_orders:  # WeChat accepts no payment for them afterwards
            await money.close_order(pool, pay, order_id)
    except PayError as exc:
        raise Problem("payment_unavailable", str(exc), retry_after=3) from None
    refund_id = None
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_LOCK_POOL, pool_id)
        if row["status"] == "unpaid":
            await conn.execute(_CANCEL, pool_id)
        elif row["status"] == "draft":
            order_id = row["order_id"]
            # Locks the order, then (_on_refund) the pool again: the order of a payment's locks.
            refund = await money.refund_order(
                conn, order_id, initiated_by="admin", requested_by=user_id, reason=f"{CANCELLED}: 奖励池已取消"
            )
            refund_id = int(refund.id)
        elif row["status"] == "committed":
            raise Problem("pool_committed", "a committed pool is paid out to members: it cannot be cancelled")
    if refund_id is not None:
        try:  # at once for a quick answer; the queued job is the guarantee
            await money.submit_refund(pool, pay, refund_id)
        except (PayError, Reschedule) as exc:
            log.info("pool refund left to the job", extra={"refundId": refund_id, "why": str(exc)})
    async with pool.acquire() as conn:
        return await _shown(conn, pay, settings, await _pool_of(conn, brand_id, pool_id), user_id)


# --- the checkout purpose ---------------------------------------------------------------------------------------


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """In the payment's transaction (the order locked): the pool becomes ready to commit, once."""
    row = await conn.fetchrow(_LOCK_POOL, order.subject_id)
    if row is None or row["brand_id"] is None:
        return Refuse("pool_not_found", "no such reward pool")
    if row["status"] == "cancelled":
        return Refuse(CANCELLED, "the pool was cancelled")
    if row["status"] != "unpaid" or order.amount_fen != row["amount_fen"]:
        return Refuse("pool_already_paid", "the pool is paid by another order")
    await conn.execute(_PAID, row["id"], order.id, order.paid_at)
    return None


async def _on_refund(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    """A refund of the paying order (a cancellation) ends the pool, unless it is committed: then nothing moves."""
    row = await conn.fetchrow(_LOCK_POOL, order.subject_id)
    if row is None or row["order_id"] != order.id:
        return
    if row["status"] == "committed":
        raise Problem("pool_committed", "a committed pool is paid out to members: it cannot be refunded")
    if row["status"] != "cancelled":
        await conn.execute(_CANCEL, row["id"])


async def _no_payer_refunds(conn: asyncpg.Connection, order: PaidOrder) -> None:
    return None  # the owner cancels the pool instead (POST .../cancel), which refunds it


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
BRAND_POOL_PAYMENTS = Purpose(PURPOSE, on_paid=_on_paid, on_refund=_on_refund, payer_refund_window=_no_payer_refunds)
