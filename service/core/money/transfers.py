"""Merchant transfers to a member (rewards, collections, payouts): promised in the caller's transaction, then
sent to WeChat and followed to their end (operations.py); the purpose hears of the end."""

from __future__ import annotations

import logging

import asyncpg

from service.core.money import queries
from service.core.money.models import Transfer
from service.core.money.numbers import merchant_number
from service.core.money.operations import Operation
from service.core.money.purposes import TransferInfo, get_purpose
from service.core.rows import from_row, lock_in_community
from service.errors import Problem
from service.jobs import enqueue
from service.wechat import pay as wxpay
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.checkout")


async def create_transfer(
    conn: asyncpg.Connection,
    *,
    payee_user_id: int,
    amount_fen: int,
    purpose: str,
    subject_id: int | None,
    community_id: int,
    remark: str,
    dedupe_key: str | None,
) -> int:
    """Promise a merchant transfer (in the caller's transaction); asking again with the same `dedupe_key`
    returns the first one (None: a new transfer each time, for a caller whose own lock makes it once). The
    `checkout.transfer` job sends it and follows it to a final state. `community_id`: the community the payout
    comes from, as for orders."""
    out_bill_no = merchant_number("TR")
    transfer_id = await conn.fetchval(
        queries.INSERT_TRANSFER,
        out_bill_no,
        payee_user_id,
        amount_fen,
        purpose,
        subject_id,
        community_id,
        remark,
        dedupe_key or out_bill_no,
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


async def get_transfer(conn: asyncpg.Connection, pay: WeChatPay, transfer_id: int, user_id: int) -> Transfer:
    row = await conn.fetchrow(queries.PAYEE_TRANSFER, transfer_id, user_id)
    if row is None:
        raise Problem("not_found", "no such transfer")
    return from_row(
        Transfer,
        row,
        mch_id=pay.config.mchid,
        app_id=pay.config.appid,
        package_info=row["package_info"] if row["status"] == "wait_user_confirm" else None,
    )


async def _finished(conn: asyncpg.Connection, transfer_id: int) -> None:
    row = await conn.fetchrow(queries.TRANSFER, transfer_id)
    purpose = get_purpose(row["purpose"])
    if purpose is not None and purpose.on_transfer is not None:
        await purpose.on_transfer(conn, TransferInfo.of(row))


class _Transfers(Operation[wxpay.TransferBill]):
    kind = "transfer"
    states = {
        "WAIT_USER_CONFIRM": "wait_user_confirm",
        "ACCEPTED": "processing",
        "PROCESSING": "processing",
        "TRANSFERING": "processing",
        "CANCELING": "processing",
        "SUCCESS": "succeeded",
        "FAIL": "failed",
        "CANCELLED": "cancelled",
    }
    final = frozenset({"succeeded", "failed", "cancelled"})
    moving = frozenset({"pending", "wait_user_confirm", "processing"})
    check_every = 600.0
    # Asked again while the member has not confirmed, WeChat may answer with a new package_info.
    repeats_with_news = frozenset({"wait_user_confirm"})
    load = queries.TRANSFER

    async def send(self, pay: WeChatPay, row: asyncpg.Record) -> wxpay.TransferBill:
        return await pay.transfer(
            out_bill_no=row["out_bill_no"],
            openid=row["payee_openid"],
            amount_fen=row["amount_fen"],
            remark=row["remark"],
        )

    async def query(self, pay: WeChatPay, row: asyncpg.Record) -> wxpay.TransferBill:
        return await pay.query_transfer(row["out_bill_no"])

    async def keep_error(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        await conn.execute(queries.KEEP_TRANSFER_ERROR, row["id"], str(exc)[:500])

    async def fail(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        if await conn.fetchval(queries.FAIL_TRANSFER, row["id"], exc.code, str(exc)[:500]) is not None:
            await _finished(conn, row["id"])

    async def lock(self, conn: asyncpg.Connection, answer: wxpay.TransferBill) -> asyncpg.Record | None:
        return await lock_in_community(
            conn, queries.TRANSFER_COMMUNITY_BY_NO, queries.LOCK_TRANSFER_BY_NO, answer.out_bill_no
        )

    def amount(self, answer: wxpay.TransferBill) -> int | None:
        return answer.transfer_amount

    async def record(
        self, conn: asyncpg.Connection, row: asyncpg.Record, status: str, answer: wxpay.TransferBill
    ) -> None:
        bill_no = answer.transfer_bill_no or None
        package_info = answer.package_info or (row["package_info"] if status == "wait_user_confirm" else None)
        await conn.execute(queries.UPDATE_TRANSFER, row["id"], status, bill_no, package_info, answer.fail_reason, None)
        if status == "succeeded":
            await conn.execute(queries.INSERT_LEDGER_TRANSFER, row["id"], row["amount_fen"], bill_no)
        if status in self.final:
            await _finished(conn, row["id"])
            log.info("transfer finished", extra={"transferId": row["id"], "status": status})


TRANSFERS = _Transfers()
# The `checkout.transfer` job, and what WeChat says of a transfer (answer, query or MCHTRANSFER.* notification).
submit_transfer = TRANSFERS.follow
apply_transfer = TRANSFERS.apply
