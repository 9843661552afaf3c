"""Checkout's job kinds. Each is idempotent: it re-reads the state and does only what is still missing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from service.core import money
from service.jobs import JobContext, Registry
from service.wechat.pay import WeChatPay

JOBS = Registry()


def _step(key: str, step: Callable[[asyncpg.Pool, WeChatPay, int], Awaitable[None]]):
    """A job that runs one step of checkout on the order, refund or transfer whose id is `payload[key]`."""

    async def run(ctx: JobContext, payload: dict) -> None:
        await step(ctx.pool, ctx.services["pay"], payload[key])

    return run


# An order still unpaid some minutes after creation: ask WeChat (its notification may be lost).
JOBS.register("checkout.reconcile", _step("order_id", money.reconcile_order))
# After time_expire: close the order at WeChat and here (or apply a last-moment payment).
JOBS.register("checkout.expire", _step("order_id", money.expire_order))
# Submit a refund, retried with backoff while WeChat is unavailable, then follow it to its end.
JOBS.register("checkout.refund", _step("refund_id", money.submit_refund))
# Send a merchant transfer, retried with backoff, then follow it until the member confirms.
JOBS.register("checkout.transfer", _step("transfer_id", money.submit_transfer))
