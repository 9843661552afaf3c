"""Ending a group collection (the rules are in logic.py's docstring): `cancel` by the initiator or an admin while
it is open, refunding every paid share; `settle` by the `collections.settle` job at the deadline, in steps that
are each safe to repeat, which cancels the same way instead when the initiator is no longer an active member;
`enqueue_overdue`, the sweep that finds collections whose job went missing."""

from __future__ import annotations

import logging

import asyncpg
from litestar import Response

from service.collections import models as m
from service.collections import queries as q
from service.collections.logic import (
    INITIATOR_LEFT,
    PURPOSE,
    SWEEP_BATCH,
    _detail,
    _lock,
    _now,
    initiator_active,
)
from service.core import money as checkout
from service.core.access import ADMIN_ROLES, require_member
from service.core.content import require_passed
from service.core.idempotency import replay, run_once, scope_of
from service.core.inbox import Item, deliver
from service.errors import Problem
from service.jobs import Reschedule, enqueue
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay

log = logging.getLogger("service.collections")


async def cancel(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    collection_id: int,
    user_id: int,
    data: m.CollectionCancel,
    key: str | None,
) -> Response[bytes]:
    """Initiator or admin, while the collection is open: every paid share is refunded (the refund jobs submit
    them), and the `collections.settle` job closes the orders still payable. Cancelling again answers the
    same."""
    reason = data.reason.strip()
    scope = scope_of("collection.cancel", collection_id, reason)
    if reason:
        async with pool.acquire() as conn:
            if (replayed := await replay(conn, user_id, key, scope)) is not None:
                return replayed  # a retry answers what the first did, without asking WeChat again
            await _may_cancel(conn, collection_id, user_id)  # WeChat checks only the text of who may cancel
        await require_passed(pool, wechat, user_id, reason, "reason")  # it reaches the payers' inboxes

    async def action() -> tuple[int, m.Collection]:
        collection = await _may_cancel(conn, collection_id, user_id, lock=True)
        if collection["status"] == "cancelled":
            return 200, await _detail(conn, collection_id, user_id)
        if collection["status"] != "open":
            raise Problem("collection_settled", f"the collection is {collection['status']}")
        refund_reason = f"collection_cancelled: {reason or collection['title']}"
        await _cancel_locked(conn, collection, "manual", refund_reason, by=user_id, reason=reason)
        await enqueue(
            conn,
            "collections.settle",
            {"collection_id": collection_id},
            dedupe_key=f"collections.cancel:{collection_id}",
        )
        return 200, await _detail(conn, collection_id, user_id)

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def _cancel_locked(
    conn: asyncpg.Connection, collection: asyncpg.Record, cause: str, refund_reason: str, *, by: int | None, reason: str
) -> None:
    """Under the collection's lock, once (the caller saw it open or settling): mark it cancelled and refund every
    paid share in full (`on_refund` marks each refunded; the `checkout.refund` jobs submit them after the commit)
    and tell each payer. `cause` is `manual` (`by` the initiator or an admin) or `initiator_left` (the system)."""
    collection_id = collection["id"]
    await conn.execute(q.CANCEL, collection_id, by, reason, cause)
    paid = await conn.fetch(q.PAID_SHARES, collection_id)
    for share in paid:
        # "admin", not "system": a domain's refund, whose on_refund takes the share back in this transaction.
        await checkout.refund_order(
            conn, share["order_id"], initiated_by="admin", requested_by=by, reason=refund_reason
        )
    refunded = Item(
        [share["user_id"] for share in paid],
        "collection_refunded",
        "collection",
        collection_id,
        collection["community_id"],
        by,
        {"title": collection["title"], "amountFen": str(collection["amount_fen"]), "reason": reason, "cause": cause},
    )
    await deliver(conn, refunded)


async def _may_cancel(
    conn: asyncpg.Connection, collection_id: int, user_id: int, *, lock: bool = False
) -> asyncpg.Record:
    """The collection (locked with ``lock``), when the user is its initiator or an admin of its community."""
    collection = await (_lock(conn, collection_id) if lock else conn.fetchrow(q.COLLECTION, collection_id, user_id))
    if collection is None:
        raise Problem("not_found", "no such collection")
    standing = await require_member(conn, collection["community_id"], user_id)
    if user_id != collection["initiator_id"] and standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the initiator or an admin cancels a collection")
    return collection


async def settle(pool: asyncpg.Pool, pay: WeChatPay, collection_id: int) -> None:
    """Settle a collection after its deadline (or tidy up a cancelled one). Each step is idempotent; run it
    again after any failure or crash and it finishes what is missing."""
    async with pool.acquire() as conn, conn.transaction():
        collection = await _lock(conn, collection_id)
        if collection is None or collection["status"] == "settled":
            return
        status = collection["status"]
        if status == "open":
            left = (collection["deadline"] - _now()).total_seconds()
            if left > 0:
                raise Reschedule(left)  # the deadline was moved, or the job ran early
            await conn.execute(q.START_SETTLING, collection_id)
            status = "settling"

    # Outside any transaction (WeChat is called): a paid order is applied, an unpaid one closed for good.
    for row in await pool.fetch(q.OPEN_SHARE_ORDERS, collection_id):
        await checkout.close_order(pool, pay, row["id"])
    if status == "cancelled":
        return

    async with pool.acquire() as conn, conn.transaction():
        collection = await _lock(conn, collection_id)
        if collection["status"] != "settling":
            return
        if await conn.fetch(q.OPEN_SHARE_ORDERS, collection_id):
            raise Reschedule(1.0)  # an order was created while we closed the others: close it too
        if not await initiator_active(conn, collection):
            # Whoever left or was removed is not paid the community's money: every payer gets theirs back.
            refund_reason = f"initiator_left: {INITIATOR_LEFT}"  # as a payment refused meanwhile says
            await _cancel_locked(conn, collection, "initiator_left", refund_reason, by=None, reason="")
            log.info(
                "collection cancelled: the initiator left",
                extra={"collectionId": collection_id, "refundedFen": collection["collected_fen"]},
            )
            return
        await conn.execute(q.EXPIRE_UNPAID, collection_id)
        transfer_id, payout = None, "none"
        if collection["collected_fen"] > 0:
            transfer_id = await checkout.create_transfer(
                conn,
                payee_user_id=collection["initiator_id"],
                amount_fen=collection["collected_fen"],
                purpose=PURPOSE,
                subject_id=collection_id,
                community_id=collection["community_id"],
                remark=f"群收款结算 {collection['title']}",
                dedupe_key=f"collection:{collection_id}",
            )
            payout = "pending"
        await conn.execute(q.MARK_SETTLED, collection_id, transfer_id, payout)
        settled = {"title": collection["title"], "collectedFen": str(collection["collected_fen"])}
        await deliver(
            conn,
            Item(
                collection["initiator_id"],
                "collection_settled",
                "collection",
                collection_id,
                collection["community_id"],
                data=settled,
            ),
        )
    log.info(
        "collection settled",
        extra={"collectionId": collection_id, "collectedFen": collection["collected_fen"], "transferId": transfer_id},
    )


async def enqueue_overdue(pool: asyncpg.Pool) -> int:
    """Make sure every collection past its deadline has a settle job (one that failed for good comes back)."""
    async with pool.acquire() as conn, conn.transaction():
        queued = 0
        for row in await conn.fetch(q.OVERDUE, SWEEP_BATCH):
            job_id = await enqueue(
                conn,
                "collections.settle",
                {"collection_id": row["id"]},
                dedupe_key=f"collections.settle:{row['id']}",
                again=False,  # a settle job running now settles it: nothing new to do
            )
            queued += job_id is not None
        return queued
