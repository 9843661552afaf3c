"""The robot's job: answer a pushed customer-service message through the customer-service send API."""

from __future__ import annotations

from service.jobs import JobContext, job
from service.robots import logic
from service.wechat.client import WeChatClient


def wechat_of(ctx: JobContext) -> WeChatClient:
    """The worker's WeChat client (built from the context when the worker did not provide one)."""
    client = ctx.services.get("wechat")
    if client is None:
        client = ctx.services["wechat"] = WeChatClient(ctx.http, ctx.pool, ctx.settings)
    return client


@job(logic.REPLY_KIND)
async def customer_reply(ctx: JobContext, payload: dict) -> None:
    await logic.answer_customer_message(ctx.pool, ctx.settings, wechat_of(ctx), int(payload["message_id"]))
