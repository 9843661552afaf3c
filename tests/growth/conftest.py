"""The growth tests' world: the feed's (members logged in through the sandbox, communities, posts), with the
operator key set so reward pools can be drawn up."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.feed import conftest as feed
from tests.support import make_settings
from tests.wechat_support import Sandbox

OPERATOR_KEY = "operator-key-0123456789-0123456789-growth"

db, jobs, world = feed.db, feed.jobs, feed.world


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, operator_api_key=OPERATOR_KEY)


async def share(world, who, post_id: str) -> str:
    response = await world.client.post(f"/v1/posts/{post_id}/share", json={"target": "group"}, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()["code"]


async def join(world, who, cid: str, status: int = 201, **body) -> dict:
    response = await world.client.post(f"/v1/communities/{cid}/join", json=body, headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def referrals(world, who, cid: str) -> dict:
    response = await world.client.get(f"/v1/communities/{cid}/referrals", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()
