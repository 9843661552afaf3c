"""Paid entry: joining a paid community through checkout (purpose `community_entry`).

- `POST /v1/communities/{id}/join` on a paid community creates (or returns the still-payable) order of the
  member and answers the `wx.requestPayment` parameters. Nothing about membership changes then.
- The payment notification (or reconciliation) calls `_on_paid` inside the payment's transaction: it admits
  the payer through `logic.admit(via="paid")`, which takes the community's lock and counts under it, so the
  cap holds at payment time whatever the order of payments. When the payer cannot be admitted (full,
  closed, removed, already a member) it returns `Refuse(code)`: checkout refunds the whole payment and the
  refund's reason, which the payer reads on `GET /v1/orders/{id}`, starts with that code.
- The refund window is the community's `refund_window_hours` (default 72) in force when the payment arrived,
  kept per order. A refund of the whole payment, by the payer inside the window or by an admin at any time,
  ends the membership (`_on_refund`, audit-logged as `member.refunded`); a partial one keeps it. An admin's
  own order is the owner's to refund (`refund_own_order`): it comes out of the owner's income.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import asyncpg
import msgspec
from litestar import Response

from service.communities import joining, logic, members, series
from service.communities import models as m
from service.communities import paid_models as pm
from service.communities import paid_queries as pq
from service.communities import queries as q
from service.communities import series_queries as sq
from service.core import money as checkout
from service.core.access import require_admin
from service.core.idempotency import run_once, scope_of
from service.core.money.models import Refund
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.core.paging import decode_cursor, encode_cursor
from service.core.rows import from_row
from service.errors import Problem
from service.settings import Settings
from service.wechat.pay import WeChatPay

PURPOSE = "community_entry"
# What admit() may refuse a paying member for; each becomes the refund's reason code.
REFUSED_BY_ADMIT = frozenset({"community_full", "member_removed", "already_member", "already_in_series"})


# --- joining -------------------------------------------------------------------------------------------


async def join(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    community_id: int,
    user_id: int,
    data: m.JoinBody | None,
    key: str | None,
) -> Response:
    """Join any community: free and approval ones through `joining.join`, paid ones through checkout.

    Paid: 201 with a new order, 200 with the still-payable one (a repeated Idempotency-Key gets the order it
    created, as it is now), 200 `already_member` for a member. The connection is given back before WeChat is
    called, so a slow WeChat never holds the pool.
    """
    data = data or m.JoinBody()
    async with pool.acquire() as conn:
        if await conn.fetchval(pq.ENTRY_MODE, community_id) != "paid":
            return await joining.join(conn, community_id, user_id, data, key)  # also answers not_found
        community = await conn.fetchrow(q.COMMUNITY, community_id)
        mine = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
        if mine is not None and mine["status"] == "active":
            membership = from_row(m.Membership, mine)
            return Response(m.JoinResult(outcome="already_member", membership=membership), status_code=200)
        if mine is not None and mine["status"] == "removed":
            raise Problem("member_removed")
        # Advisory: saves a payment that would only be refunded. The cap and the one plain membership per series
        # are enforced when paid; in a series the payment buys entry to the series (a sister, opened if need be).
        await series.check_request(conn, community_id, user_id)
        await series.check_room(conn, community)
        invite = None if data.invite_code is None else await _invite(conn, community_id, data.invite_code)
        share = None if invite is not None else await joining.share_of(conn, community_id, data.share_code)
    placed = await checkout.create_order(
        pool,
        pay,
        settings,
        payer_user_id=user_id,
        purpose=PURPOSE,
        subject_id=community_id,
        community_id=community_id,
        amount_fen=community["price_fen"],
        description=f"加入社群「{community['name']}」",
        idempotency_key=key,
    )
    order = placed.order
    if order.purpose != PURPOSE or order.subject_id != str(community_id):
        raise Problem("idempotency_key_reused")
    if invite is not None:
        await pool.execute(pq.INSERT_ENTRY, int(order.id), community_id, invite["id"], invite["created_by"], None)
    elif share is not None:
        await pool.execute(pq.INSERT_ENTRY, int(order.id), community_id, None, share["user_id"], share["id"])
    return Response(m.JoinResult(outcome="payment", order=order), status_code=201 if placed.created else 200)


async def _invite(conn: asyncpg.Connection, community_id: int, code: str) -> asyncpg.Record:
    """A live invite of this community; its use is counted only when the payer is admitted."""
    invite = await conn.fetchrow(pq.INVITE_FOR_ORDER, community_id, code)
    if invite is None:
        raise Problem("invite_not_found")
    if invite["revoked"] or invite["expired"]:
        raise Problem("invite_expired")
    if invite["used_up"]:
        raise Problem("invite_used_up")
    return invite


# --- checkout hooks --------------------------------------------------------------------------------------


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """In the payment's transaction (the order's lock is held): admit the payer, or refuse and be refunded."""
    await series.lock(conn, order.subject_id)  # a series' lock comes before any community's
    community = await conn.fetchrow(q.LOCK_COMMUNITY, order.subject_id)
    if community is None or community["entry_mode"] != "paid":
        return Refuse("community_closed", "the community no longer takes paid entries")
    entry = await conn.fetchrow(pq.RECORD_ENTRY_PAYMENT, order.id, order.subject_id, community["refund_window_hours"])
    referrer_id = entry["referrer_id"]
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves nothing of the admission behind
            # Payers who ordered through a link while it was live are admitted all (they paid), but the link credits
            # its creator only as a free join through it now would: no more than its uses, and nothing once it was
            # revoked or expired, or once its creator no longer stands there (COUNT_INVITE_USE).
            if entry["invite_id"] is not None and not await conn.fetchval(
                pq.COUNT_INVITE_USE, order.subject_id, entry["invite_id"]
            ):
                referrer_id = None
            await logic.admit(
                conn,
                order.subject_id,
                order.payer_user_id,
                via="paid",
                referrer_id=referrer_id,
                invite_id=entry["invite_id"],
                share_id=entry["share_id"],
                details={"orderId": str(order.id), "amountFen": order.amount_fen},
            )
    except Problem as problem:
        if problem.code in REFUSED_BY_ADMIT:
            return Refuse(problem.code, problem.detail or "")
        raise
    return None


async def _refund_window(conn: asyncpg.Connection, order: PaidOrder) -> timedelta | None:
    hours = await conn.fetchval(pq.ENTRY_REFUND_WINDOW, order.subject_id, order.id)
    return timedelta(hours=hours) if hours else None


async def _on_refund(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    """A payer's or an admin's refund (the order's lock is held): the whole fee back ends the membership."""
    community_id, payer = order.subject_id, order.payer_user_id
    full = await conn.fetchval(pq.REFUNDS_PROMISED, order.id) >= order.amount_fen
    paid_for = [community_id]
    if (sisters := await series.lock(conn, community_id)) is not None:  # the payment bought the series
        # The member sits in whichever sister took them; a later payment for any sister bought that seat too.
        paid_for = await conn.fetchval(sq.SERIES_COMMUNITIES, sisters["id"])
        community_id = await conn.fetchval(sq.SERIES_HOME, sisters["id"], payer) or community_id
    await conn.execute(q.LOCK_COMMUNITY, community_id)  # departures change member_count
    mine = await conn.fetchrow(q.MEMBERSHIP, community_id, payer)
    leaves = (
        full
        and mine is not None
        and mine["status"] == "active"
        and not await conn.fetchval(pq.LATER_ENTRY_PAYMENT, paid_for, payer, order.id, order.paid_at)
    )
    if leaves and mine["role"] == "owner":
        raise Problem("owner_must_transfer", "the owner cannot take the entry fee back: transfer ownership first")
    if leaves:
        await members._end_membership(conn, community_id, payer, "left", None)
    actor = await conn.fetchval(pq.REFUND_REQUESTED_BY, refund.id)
    details = {
        "orderId": str(order.id),
        "refundId": str(refund.id),
        "amountFen": refund.amount_fen,
        "initiatedBy": refund.initiated_by,
        "reason": refund.reason,
        "left": leaves,
    }
    await logic._audit(conn, community_id, actor, "member.refunded", payer, details)


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
ENTRY_PURPOSE = Purpose(PURPOSE, on_paid=_on_paid, on_refund=_on_refund, payer_refund_window=_refund_window)


# --- the community's side: orders, admin refunds, earnings -------------------------------------------------


async def entry_orders(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> pm.EntryOrderPage:
    """The community's entry orders, newest first (admins)."""
    await require_admin(conn, community_id, user_id)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(pq.ENTRY_ORDERS, community_id, status, after[0] if after else None, limit + 1)
    page = rows[:limit]
    refunds: dict[int, list[Refund]] = defaultdict(list)
    for row in await conn.fetch(pq.REFUNDS_OF_ORDERS, [row["id"] for row in page]):
        refunds[row["order_id"]].append(checkout.refund_view(row))
    items = [
        from_row(
            pm.EntryOrder,
            row,
            payer_id=row["payer_user_id"],
            payer_nickname=row["nickname"],
            payer_avatar_url=row["avatar_url"],
            refundable_until=(
                row["paid_at"] + timedelta(hours=row["window_hours"])
                if row["status"] == "paid" and row["window_hours"]
                else None
            ),
            refunds=refunds[row["id"]],
        )
        for row in page
    ]
    next_cursor = encode_cursor(page[-1]["id"]) if len(rows) > limit else None
    return pm.EntryOrderPage(items=items, next_cursor=next_cursor)


async def refund_entry(
    conn: asyncpg.Connection,
    community_id: int,
    order_id: int,
    admin_id: int,
    data: pm.EntryRefundCreate,
    key: str | None,
) -> Response[bytes]:
    """An admin refunds an entry order of their community, with a reason the payer sees. The refund job
    submits it to WeChat once this transaction commits. Not their own order unless they own the community:
    the money comes out of the owner's income, past any window (`refund_own_order`)."""

    async def action() -> tuple[int, Refund]:
        standing = await require_admin(conn, community_id, admin_id)
        order = await conn.fetchrow(pq.ENTRY_ORDER, order_id, community_id)
        if order is None:
            raise Problem("not_found", "no such order in this community")
        # A brand's team reads as admins here: the income is still the community owner's alone (payouts).
        if order["payer_user_id"] == admin_id and standing["role"] != "owner":
            raise Problem("refund_own_order", "an admin cannot refund their own order; the owner can")
        refund = await checkout.refund_order(
            conn,
            order_id,
            amount_fen=data.amount_fen,
            initiated_by="admin",
            requested_by=admin_id,
            reason=data.reason.strip(),
        )
        return 201, refund

    scope = scope_of("community.refund", community_id, order_id, msgspec.to_builtins(data))
    return await run_once(conn, admin_id, key, scope, action)


async def earnings(conn: asyncpg.Connection, community_id: int, user_id: int) -> pm.Earnings:
    """Entry fees kept by the community and the part not withdrawable yet (owner and admins)."""
    await require_admin(conn, community_id, user_id)
    community = await conn.fetchrow(q.COMMUNITY, community_id)
    row = await conn.fetchrow(pq.EARNINGS, community_id)
    retained = row["paid_fen"] - row["refunded_fen"]
    return pm.Earnings(
        community_id=str(community_id),
        refund_window_hours=community["refund_window_hours"],
        paid_orders=row["paid_orders"],
        paid_fen=row["paid_fen"],
        refunded_fen=row["refunded_fen"],
        retained_fen=retained,
        refunding_fen=row["refunding_fen"],
        in_refund_window_fen=row["in_window_fen"],
        paying_out_fen=row["paying_out_fen"],
        paid_out_fen=row["paid_out_fen"],
        withdrawable_fen=row["withdrawable_fen"],
    )
