"""The feed's test world: the app and the WeChat sandbox over real HTTP, members logged in through the sandbox
(so msg_sec_check knows them), a community, and helpers that decode every page with the documented models."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from service.db.pool import create_pool
from service.feed.models import Comment, CommentPage, FeedItem, FeedPage
from service.jobs import JobContext
from service.settings import Settings
from tests.support import http_client, make_settings
from tests.wechat_support import Sandbox
from tests.world import Member, sign_in


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    # Newcomer limits are off here (every test member joined a moment ago); test_newcomer_limits turns them on.
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0)


@pytest.fixture
async def db(database_url: str):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


class World:
    def __init__(self, client: httpx.AsyncClient, sandbox: Sandbox) -> None:
        self.client = client
        self.sandbox = sandbox

    async def member(self, name: str) -> Member:
        return await sign_in(self.client, self.sandbox, name, nickname=True)

    async def community(self, owner: Member, *members: Member, **fields: Any) -> str:
        body = {"name": "Runners", **fields}
        response = await self.client.post("/v1/communities", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        cid = response.json()["id"]
        for member in members:
            joined = await self.client.post(f"/v1/communities/{cid}/join", headers=member.headers)
            assert joined.status_code == 201, joined.text
        return cid

    async def post(self, who: Member, cid: str, text: str = "hello everyone", status: int = 201, **body) -> dict:
        url = f"/v1/communities/{cid}/posts"
        response = await self.client.post(url, json={"text": text, **body}, headers=who.headers)
        assert response.status_code == status, response.text
        if status == 201:
            msgspec.json.decode(response.content, type=FeedItem)
        return response.json()

    async def comment(self, who: Member, post_id: str, text: str, parent: str | None = None, status: int = 201) -> dict:
        body = {"text": text} if parent is None else {"text": text, "parentId": parent}
        response = await self.client.post(f"/v1/posts/{post_id}/comments", json=body, headers=who.headers)
        assert response.status_code == status, response.text
        if status == 201:
            msgspec.json.decode(response.content, type=Comment)
        return response.json()

    async def feed(self, who: Member, cid: str, **params: Any) -> dict:
        response = await self.client.get(f"/v1/communities/{cid}/feed", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        msgspec.json.decode(response.content, type=FeedPage)  # exactly the documented shape
        return response.json()

    async def comments(self, who: Member, post_id: str, **params: Any) -> dict:
        response = await self.client.get(f"/v1/posts/{post_id}/comments", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        msgspec.json.decode(response.content, type=CommentPage)
        return response.json()


@pytest.fixture
async def world(client: httpx.AsyncClient, sandbox: Sandbox) -> World:
    return World(client, sandbox)


@pytest.fixture
async def jobs(settings: Settings):
    """What the worker hands a job: its own pool and HTTP client (the WeChat client is built from them)."""
    pool = await create_pool(settings)
    async with http_client(timeout=10) as http:
        yield JobContext(pool=pool, settings=settings, http=http)
    await pool.close()


async def events(db, kind: str | None = None) -> list:
    rows = await db.fetch("SELECT kind, user_id, post_id FROM interaction_events ORDER BY id")
    return [tuple(row) for row in rows if kind is None or row["kind"] == kind]
