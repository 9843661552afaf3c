"""Owner payouts: the community's withdrawable entry fees, sent to its owner by merchant transfer.

An entry payment becomes withdrawable once its payer's refund window has passed and no refund of it is in
flight. `POST /v1/communities/{id}/payouts` binds every such order to one payout (`orders.payout_id`) and
promises one transfer of their total, in one transaction under the orders' locks: two payouts never carry the
same order, and a bound order can no longer be refunded (`order_paid_out`). The checkout worker sends the
transfer; the owner confirms it in WeChat. When it fails or is not confirmed in time, `_on_transfer` marks
the payout failed and releases its orders, whose money is withdrawable again.
"""

from __future__ import annotations

import logging

import asyncpg
from litestar import Response

from service.communities import logic
from service.communities import paid_models as pm
from service.communities import paid_queries as pq
from service.core import money as checkout
from service.core.access import require_admin, require_owner
from service.core.idempotency import run_once, scope_of
from service.core.money.purposes import PaidOrder, Purpose, Refuse, TransferInfo
from service.core.paging import fetch_page
from service.core.rows import from_row
from service.errors import Problem
from service.wechat.pay import MAX_UNNAMED_TRANSFER_FEN, MIN_TRANSFER_FEN

PURPOSE = "community_payout"

log = logging.getLogger("service.communities")


def _payout(row: asyncpg.Record) -> pm.Payout:
    return from_row(pm.Payout, row, payee_id=row["payee_user_id"])


async def withdraw(conn: asyncpg.Connection, community_id: int, owner_id: int, key: str | None) -> Response[bytes]:
    """The owner takes the withdrawable entry fees, oldest payments first, in one merchant transfer: up to what
    WeChat transfers without the payee's real name, leaving the rest for the next payout."""

    async def action() -> tuple[int, pm.Payout]:
        await require_owner(conn, community_id, owner_id)
        locked = [row["id"] for row in await conn.fetch(pq.LOCK_UNPAID_OUT_ORDERS, community_id)]
        orders, total, too_large = [], 0, False
        for row in await conn.fetch(pq.WITHDRAWABLE_ORDERS, community_id, locked):
            if total + row["amount_fen"] <= MAX_UNNAMED_TRANSFER_FEN:
                orders.append(row["id"])
                total += row["amount_fen"]
            too_large |= row["amount_fen"] > MAX_UNNAMED_TRANSFER_FEN
        if not orders and too_large:
            raise Problem("payout_too_large")
        if total < MIN_TRANSFER_FEN:
            raise Problem("nothing_to_withdraw", f"{total} fen withdrawable; a payout needs {MIN_TRANSFER_FEN}")
        payout_id = await conn.fetchval(pq.INSERT_PAYOUT, community_id, owner_id, total, len(orders))
        await conn.execute(pq.HOLD_ORDERS, orders, payout_id)
        transfer_id = await checkout.create_transfer(
            conn,
            payee_user_id=owner_id,
            amount_fen=total,
            purpose=PURPOSE,
            subject_id=payout_id,
            community_id=community_id,
            remark="社群入群费提现",
            dedupe_key=f"payout:{payout_id}",
        )
        await conn.execute(pq.SET_PAYOUT_TRANSFER, payout_id, transfer_id)
        await logic._audit(
            conn, community_id, owner_id, "payout.created", owner_id, {"payoutId": str(payout_id), "amountFen": total}
        )
        return 201, _payout(await conn.fetchrow(pq.PAYOUT, payout_id))

    return await run_once(conn, owner_id, key, scope_of("community.payout", community_id), action)


async def list_payouts(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int, cursor: str | None
) -> pm.PayoutPage:
    await require_admin(conn, community_id, user_id)
    items, next_cursor = await fetch_page(
        conn, pq.PAYOUTS, community_id, limit=limit, cursor=cursor, item=_payout, key=("id",)
    )
    return pm.PayoutPage(items=items, next_cursor=next_cursor)


async def _on_transfer(conn: asyncpg.Connection, transfer: TransferInfo) -> None:
    succeeded = transfer.status == "succeeded"
    was = await conn.fetchval(pq.PAYOUT_STATUS, transfer.subject_id)
    community_id = await conn.fetchval(pq.FINISH_PAYOUT, transfer.subject_id, "succeeded" if succeeded else "failed")
    if community_id is None:
        return  # finished already
    if not succeeded:
        await conn.execute(pq.RELEASE_ORDERS, transfer.subject_id)
    details = {"payoutId": str(transfer.subject_id), "amountFen": transfer.amount_fen, "status": transfer.status}
    if was == "failed":
        # WeChat paid a transfer we had failed (a query error once did that): the owner has the money, so the
        # payout succeeded. Its payments were released when it failed and which they were is not kept: any the
        # owner withdrew again were paid twice, for a person to settle (docs/checkout.md, paid entry 6).
        details["afterFailure"] = True
        log.error("a failed payout was paid: its released payments need a person", extra=details)
    await logic._audit(conn, community_id, None, "payout.finished", transfer.payee_user_id, details)


async def _never_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse:
    return Refuse("not_payable", "payouts are paid out, never paid for")


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
PAYOUT_PURPOSE = Purpose(PURPOSE, on_paid=_never_paid, on_transfer=_on_transfer)
