"""The privacy tests' world: the seeded world (tests/seed.py) over the whole stack, whose `author` then gets every
kind of row the export lists and every kind of identity the erasure must remove: a nickname (also in the welcome
post that greeted them), a phone number, a unionid, an avatar upload, a like, a report with a note, an inbox item,
a check-in, a refund, a reward share, blocks both ways, a mention, check-in points spent on a trial place. The
author's collection payout stays unconfirmed (`wait_user_confirm`): money in flight."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from service.auth.deletion import ERASE_KIND
from service.jobs.queries import SEED_PERIODIC
from tests.media.conftest import phone_photo
from tests.seed import Seeded, Seeder, User, build, local_window, seeder_for
from tests.stack import Stack, full_stack
from tests.wechat_support import wx_login

NICKNAME = "晨跑的阿澄"
PHONE = "13912345678"
REPORT_NOTE = "这条内容是广告"


@dataclass
class PrivacyWorld:
    stack: Stack
    seeder: Seeder
    seeded: Seeded

    @property
    def api(self) -> httpx.AsyncClient:
        return self.seeder.api

    @property
    def author(self) -> User:
        return self.seeded.users["author"]

    async def identity(self, name: str) -> dict[str, Any]:
        """The WeChat identity of a sandbox user: openid and unionid."""
        return await self.stack.sandbox.control("GET", f"/sandbox/users/{name}")

    async def login(self, name: str, *, with_unionid: bool = False) -> dict[str, Any]:
        code = await wx_login(self.stack.sandbox.url, name, with_unionid=with_unionid)
        response = await self.api.post("/v1/auth/login", json={"code": code})
        assert response.status_code == 200, response.text
        return response.json()

    async def export(self, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.api.get("/v1/me/export", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def run_kind(self, kind: str) -> None:
        """Run the queued jobs of one kind now (others in the seeded world may keep the worker busy)."""
        await self.seeder.pool.execute("UPDATE jobs SET run_at = now() - interval '1 hour' WHERE kind = $1", kind)
        due = "SELECT count(*) FROM jobs WHERE kind = $1 AND status = 'queued' AND run_at <= now()"
        while await self.seeder.pool.fetchval(due, kind):
            assert await self.seeder.worker.run_once() > 0

    async def erase_due(self, user_id: str) -> None:
        """End the cooling-off now (the clock moves by the deletion's due time) and let the worker's periodic
        `accounts.erase` run."""
        pool = self.seeder.pool
        await pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", int(user_id))
        await pool.execute(SEED_PERIODIC, [ERASE_KIND])
        await self.run_kind(ERASE_KIND)


async def enrich(s: Seeder, seeded: Seeded) -> None:
    users, ids = seeded.users, seeded.ids
    author, member, owner = users["author"], users["member"], users["owner"]
    cid = ids["community_id"]
    await s.call("PUT", "/v1/me", author, json={"nickname": NICKNAME})
    code = await s.stack.sandbox.phone_code("author", PHONE)
    await s.call("POST", "/v1/auth/phone", author, json={"code": code})
    code = await wx_login(s.stack.sandbox.url, "author", with_unionid=True)
    relogged = await s.api.post("/v1/auth/login", json={"code": code})
    assert relogged.status_code == 200, relogged.text
    # Joined after taking a nickname: the welcome post names the author.
    await s.join(author, await s.community(owner, name="夜跑团"))

    files = {"file": ("avatar.jpg", phone_photo(), "image/jpeg")}
    upload = await s.api.post("/v1/media", files=files, data={"purpose": "avatar"}, headers=author.headers)
    assert upload.status_code == 201, upload.text
    await s.call("PUT", "/v1/me", author, json={"avatarMediaId": upload.json()["id"]})

    others_post = await s.post(member, cid, "周末一起去奥森吗")
    await s.call("PUT", f"/v1/posts/{others_post}/like", author)
    await s.comment(member, ids["post_id"], "写得真好")  # an inbox item for the author
    report = {"targetKind": "post", "targetId": others_post, "reason": "other", "note": REPORT_NOTE}
    await s.call("POST", "/v1/reports", author, json=report)
    await s.call("POST", f"/v1/activities/{ids['activity_id']}/check-ins", author, json={"text": "六点起床跑了五公里"})
    refund = f"/v1/communities/{seeded.extra['paid_community_id']}/orders/{ids['order_id']}/refund"
    await s.call("POST", refund, owner, json={"reason": "活动取消"})
    await s.pay_share(author, await s.collection(member, cid, [author]))
    # Blocks both ways, and a mention of the author (a notice for them).
    await s.call("POST", "/v1/me/blocks", author, json={"userId": str(users["stranger"].id)})
    await s.call("POST", "/v1/me/blocks", users["stranger"], json={"userId": str(author.id)})
    mention = {"text": "一起跑步吧", "mentions": [str(author.id)]}
    await s.call("POST", f"/v1/posts/{others_post}/comments", member, json=mention)
    # Check-in points spent on a trial place: a brand that lets its members spend them, a poll that offers places.
    branded = await s.community(owner, author, name="冷萃品牌群")
    brand = await s.call("POST", "/v1/brands", owner, json={"name": "冷萃咖啡", "defaults": {"pointsSpendable": True}})
    await s.call("POST", f"/v1/brands/{brand['id']}/communities", owner, json={"communityId": branded})
    body = {"title": "早起打卡", "prompt": "晒晒早餐", "recurrence": "daily", "rewardPoints": 30, **local_window()}
    activity = await s.call("POST", f"/v1/communities/{branded}/activities", owner, json=body)
    await s.call("POST", f"/v1/activities/{activity['id']}/check-ins", author, json={"text": "六点起床喝冷萃"})
    poll_id = await s.poll(owner, branded, trialPoints={"price": 30, "places": 1})
    await s.call("POST", f"/v1/polls/{poll_id}/close", owner)
    redeemed = await s.call("POST", f"/v1/polls/{poll_id}/trial-redemptions", author)
    await s.claim(author, redeemed["id"])
    # A reward share from a committed pool, written as the commit writes it (a real commit needs days of
    # rolled-up metrics; tests/test_metrics_scenario.py commits one over HTTP).
    pool_id = await s.pool.fetchval(
        "INSERT INTO reward_pools (amount_fen, window_from, window_to, status, created_by, committed_at) "
        "VALUES (500, current_date, current_date, 'committed', 'operator', now()) RETURNING id"
    )
    await s.pool.execute(
        "INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis) "
        "VALUES ($1, $2, $3, 500, 1)",
        pool_id,
        int(cid),
        int(author.id),
    )
    await s.run_due_jobs()


@contextlib.asynccontextmanager
async def privacy_world(database_url: str, pay_keys, **overrides: object) -> AsyncIterator[PrivacyWorld]:
    async with full_stack(database_url, pay_keys, newcomer_hours=0, **overrides) as stack, seeder_for(stack) as seeder:
        seeded = await build(seeder)
        await enrich(seeder, seeded)
        yield PrivacyWorld(stack, seeder, seeded)
