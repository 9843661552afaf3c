"""A world for operating a community: the API, the WeChat sandbox with the Pay sandbox mounted on it (one
server, as `python -m service sandbox` runs them), members logged in through the sandbox, and an in-process
job worker holding both WeChat clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from service.core.domain import job_registry
from service.db.pool import create_pool
from service.domains import DOMAINS
from service.jobs import JobContext
from service.jobs.worker import Worker
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay
from service.wechat.sandbox.pay import PaySandbox
from tests.stack import OPERATOR_KEY, full_stack
from tests.support import http_client
from tests.wechat_support import Sandbox
from tests.world import Member, sign_in

__all__ = ["OPERATOR_KEY"]


@dataclass
class World:
    settings: Settings
    api: httpx.AsyncClient
    sandbox: Sandbox
    pay_sandbox: PaySandbox
    pool: asyncpg.Pool
    pay: WeChatPay
    wechat: WeChatClient
    worker: Worker

    async def member(self, name: str) -> Member:
        """Log in through the sandbox (a real visit: content checks accept the member)."""
        return await sign_in(self.api, self.sandbox, name)

    async def community(self, owner: Member, *members: Member, **fields: Any) -> str:
        body = {"name": f"{owner.name}'s circle", **fields}
        response = await self.api.post("/v1/communities", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        community_id = response.json()["id"]
        for member in members:
            joined = await self.api.post(f"/v1/communities/{community_id}/join", headers=member.headers)
            assert joined.status_code == 201, joined.text
        return community_id

    async def consent(self, member: Member, template_id: str, count: int = 1) -> None:
        """The member accepted wx.requestSubscribeMessage for ``template_id`` ``count`` times."""
        await self.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": member.name, "templateId": template_id, "count": count}
        )

    async def subscribe_messages(self, member: Member) -> list[dict]:
        answer = await self.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": member.openid})
        return answer["items"]

    async def pay_order(self, order: dict, drop: bool = False) -> dict:
        """The member pays in WeChat; the signed notification reaches the API before this returns."""
        prepay_id = order["payment"]["package"].removeprefix("prepay_id=")
        return await self.sandbox.control("POST", "/sandbox/pay", json={"prepayId": prepay_id, "drop": drop})

    async def payer_reads(self, order: dict) -> list[str | None]:
        """What WeChat's refund messages of this order tell the payer: the reasons the Pay sandbox received."""
        refunds = await self.sandbox.control("GET", "/sandbox/pay/refunds", params={"outTradeNo": order["outTradeNo"]})
        return [refund["reason"] for refund in refunds]

    async def run_due_jobs(self, rounds: int = 10) -> None:
        """Make every queued job due now and run the worker until nothing is due."""
        for _ in range(rounds):
            await self.pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued'")
            if await self.worker.run_once() == 0:
                return

    async def run_job(self, kind: str) -> None:
        """Run one periodic job now (its queued row, seeded by the worker)."""
        await self.worker.seed_periodic()
        await self.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = $1 AND status = 'queued'", kind)
        handler = self.worker.jobs.handlers[kind]
        await handler(self.worker.context, {})


@pytest.fixture
async def world(database_url, pay_keys) -> AsyncIterator[World]:
    async with full_stack(database_url, pay_keys) as stack:
        settings = stack.settings
        pool = await create_pool(settings)
        try:
            async with (
                http_client(base_url=stack.api_url, timeout=30) as api,
                http_client(timeout=10) as http,
            ):
                pay = WeChatPay.from_settings(settings, http)
                wechat = WeChatClient(http, pool, settings)
                context = JobContext(pool=pool, settings=settings, http=http, services={"pay": pay, "wechat": wechat})
                worker = Worker(
                    context, job_registry(DOMAINS), concurrency=4, lease=5, poll_interval=0.05, backoff_base=0.2
                )
                yield World(settings, api, stack.sandbox, stack.pay_sandbox, pool, pay, wechat, worker)
        finally:
            await pool.close()
