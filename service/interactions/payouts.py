"""Paying member rewards out: merchant transfers promised when a pool is committed (rewards.py), a member asking
for an owed reward's transfer, and what WeChat Pay's answer about a transfer means for the rewards it carries."""

from __future__ import annotations

import logging

import asyncpg
from litestar import Response

from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.money import create_transfer, get_transfer
from service.core.money.models import Transfer
from service.core.money.purposes import PaidOrder, Purpose, Refuse, TransferInfo
from service.errors import Problem
from service.interactions import reward_queries as rq
from service.wechat.pay import MIN_TRANSFER_FEN, WeChatPay

log = logging.getLogger("service.interactions")


async def promise_payouts(conn: asyncpg.Connection, pool_id: int) -> None:
    """Merchant transfers for the pool's member rewards, promised in the commit's transaction: one per reward of
    0.1 yuan or more, and one per member and community for their smaller owed rewards once these add up to 0.1 yuan
    (WeChat Pay transfers nothing less). The checkout worker sends them, the member confirms them in the mini
    program, and `_on_transfer` marks the rewards paid."""
    for row in await conn.fetch(rq.PAYABLE_ALLOCATIONS, pool_id, MIN_TRANSFER_FEN):
        await _transfer(conn, [row], dedupe_key=f"reward:{row['id']}")
    for payee in await conn.fetch(rq.SMALL_PAYEES, pool_id, MIN_TRANSFER_FEN):
        rows = await conn.fetch(rq.LOCK_SMALL_REWARDS, payee["community_id"], payee["user_id"], MIN_TRANSFER_FEN)
        await _pay_small(conn, rows)


async def _pay_small(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> int | None:
    """One transfer for those of a member's small owed rewards in a community (LOCK_SMALL_REWARDS: all of them,
    locked, so a reward is never in two open transfers) that no transfer carries, once they add up to WeChat's
    minimum; None while they do not."""
    free = [row for row in rows if row["transfer_id"] is None]
    if sum(row["amount_fen"] for row in free) < MIN_TRANSFER_FEN:
        return None
    return await _transfer(conn, free)


async def _transfer(conn: asyncpg.Connection, rows: list[asyncpg.Record], dedupe_key: str | None = None) -> int:
    """Promise one transfer paying these locked rewards (one member's, one community's). Without `dedupe_key`, a
    new transfer: the rewards' locks make it once, and one sent again after a failure must not be the failed one."""
    first = rows[0]
    transfer_id = await create_transfer(
        conn,
        payee_user_id=first["user_id"],
        amount_fen=sum(row["amount_fen"] for row in rows),
        purpose=REWARD_PURPOSE,
        subject_id=first["id"],
        community_id=first["community_id"],
        remark="社区活跃奖励",
        dedupe_key=dedupe_key,
    )
    await conn.execute(rq.SET_ALLOCATION_TRANSFER, first["community_id"], [row["id"] for row in rows], transfer_id)
    return transfer_id


async def transfer_reward(
    conn: asyncpg.Connection, pay: WeChatPay, reward_id: int, user_id: int, key: str | None
) -> Response[bytes]:
    """The member asks for an owed reward's transfer: 201 with a new one when it has none (its transfer failed or
    was returned, or it is small and the member's small rewards of its community now add up to WeChat's minimum,
    which are then paid together), 200 with the open one it has. Never two open transfers for a reward: its row
    (a small one: all of the member's small ones in the community) is locked."""

    async def action() -> tuple[int, Transfer]:
        reward = await conn.fetchrow(rq.MY_REWARD, reward_id, user_id)
        if reward is None:
            raise Problem("reward_not_found")
        community_id = reward["community_id"]
        small = reward["amount_fen"] < MIN_TRANSFER_FEN
        if small:
            rows = await conn.fetch(rq.LOCK_SMALL_REWARDS, community_id, user_id, MIN_TRANSFER_FEN)
        else:
            rows = await conn.fetch(rq.LOCK_OWED_REWARD, community_id, reward_id)
        mine = next((row for row in rows if row["id"] == reward_id), None)
        if mine is None:
            raise Problem("reward_already_paid")
        if mine["transfer_id"] is not None:
            return 200, await get_transfer(conn, pay, mine["transfer_id"], user_id)
        transfer_id = await (_pay_small(conn, rows) if small else _transfer(conn, rows))
        if transfer_id is None:
            owed = sum(row["amount_fen"] for row in rows if row["transfer_id"] is None)
            raise Problem(
                "reward_below_minimum", f"{owed} fen owed in this community; a transfer needs {MIN_TRANSFER_FEN}"
            )
        return 201, await get_transfer(conn, pay, transfer_id, user_id)

    return await run_once(conn, user_id, key, scope_of("reward.transfer", reward_id), action)


async def _on_transfer(conn: asyncpg.Connection, transfer: TransferInfo) -> None:
    if transfer.status != "succeeded":
        # Failed, or returned unconfirmed after 24 hours: its rewards are owed again, free to be sent again.
        await conn.execute(rq.RELEASE_TRANSFER, transfer.id)
        return
    paid = await conn.fetch(rq.MARK_TRANSFER_PAID, transfer.id)
    if paid:  # the first time only; one notice for the transfer, however many rewards it pays
        data = {"amountFen": str(transfer.amount_fen)}
        community_id = paid[0]["community_id"]
        await deliver(
            conn, Item(transfer.payee_user_id, "reward_paid", "reward", transfer.subject_id, community_id, data=data)
        )
    elif not await conn.fetchval(rq.TRANSFER_PAID_REWARDS, transfer.id):
        # WeChat paid a transfer we had failed (only a query error once did that): its rewards were released and
        # may have been sent again, so the member may hold them twice, for a person to settle.
        log.error("a failed reward transfer was paid", extra={"transferId": transfer.id})


async def _never_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse:
    return Refuse("not_payable", "rewards are paid out, never paid for")


REWARD_PURPOSE = "reward"
# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
REWARD_PAYMENTS = Purpose(REWARD_PURPOSE, on_paid=_never_paid, on_transfer=_on_transfer)
