"""The safety tests' world: the feed's (members logged in through the sandbox, a community, posts), with small
limits for blocks and mentions, and helpers for blocking and the inbox."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.feed import conftest as feed
from tests.feed.conftest import World
from tests.support import make_settings
from tests.wechat_support import Sandbox

# The feed's fixtures, shared.
db, jobs, world = feed.db, feed.jobs, feed.world

MAX_BLOCKS = 3
MAX_MENTIONS = 3


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(
        database_url, wechat_api_base=sandbox.url, newcomer_hours=0, max_blocks=MAX_BLOCKS, max_mentions=MAX_MENTIONS
    )


async def block(world: World, who, whom, expect: int = 200) -> dict:
    response = await world.client.post("/v1/me/blocks", json={"userId": str(whom.id)}, headers=who.headers)
    assert response.status_code == expect, response.text
    return response.json()


async def unblock(world: World, who, whom) -> None:
    response = await world.client.delete(f"/v1/me/blocks/{whom.id}", headers=who.headers)
    assert response.status_code == 204, response.text


async def inbox(world: World, who) -> dict:
    response = await world.client.get("/v1/me/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]
