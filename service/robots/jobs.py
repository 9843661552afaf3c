"""The robot's jobs: answer a pushed customer-service message through the customer-service send API; forget
the seals of push queries gone stale."""

from __future__ import annotations

from service.core.messaging import wechat_of
from service.jobs import JobContext, Registry
from service.robots import logic

JOBS = Registry()


@JOBS.job(logic.REPLY_KIND)
async def customer_reply(ctx: JobContext, payload: dict) -> None:
    await logic.answer_customer_message(ctx.pool, ctx.settings, wechat_of(ctx), int(payload["message_id"]))


@JOBS.job(logic.FORGET_SEALS_KIND, every=300)
async def forget_push_seals(ctx: JobContext, payload: dict) -> None:
    await logic.forget_push_seals(ctx.pool)
