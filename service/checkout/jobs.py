"""Checkout's job kinds. Each is idempotent: it re-reads the state and does only what is still missing."""

from __future__ import annotations

from service.core import money as logic
from service.jobs import JobContext, Registry

JOBS = Registry()


@JOBS.job("checkout.reconcile")
async def reconcile(ctx: JobContext, payload: dict) -> None:
    """An order still unpaid some minutes after creation: ask WeChat (its notification may be lost)."""
    await logic.reconcile_order(ctx.pool, ctx.services["pay"], payload["order_id"])


@JOBS.job("checkout.expire")
async def expire(ctx: JobContext, payload: dict) -> None:
    """After time_expire: close the order at WeChat and here (or apply a last-moment payment)."""
    await logic.expire_order(ctx.pool, ctx.services["pay"], payload["order_id"])


@JOBS.job("checkout.refund")
async def refund(ctx: JobContext, payload: dict) -> None:
    """Submit a refund, retried with backoff while WeChat is unavailable, then follow it to its end."""
    await logic.submit_refund(ctx.pool, ctx.services["pay"], payload["refund_id"])


@JOBS.job("checkout.transfer")
async def transfer(ctx: JobContext, payload: dict) -> None:
    """Send a merchant transfer, retried with backoff, then follow it until the member confirms."""
    await logic.submit_transfer(ctx.pool, ctx.services["pay"], payload["transfer_id"])
