"""The interests' test world: the feed's (members logged in through the sandbox, communities, posts, the app over
HTTP), with newcomer limits off, and the jobs run as the worker runs them (their registered handlers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from service.core.domain import job_registry
from service.domains import DOMAINS
from service.inbox.models import NotificationPage
from service.settings import Settings
from tests.feed import conftest as feed
from tests.support import make_settings
from tests.wechat_support import Sandbox

db, jobs, world = feed.db, feed.jobs, feed.world
HANDLERS = job_registry(DOMAINS).handlers


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0)


async def run(jobs, kind: str) -> None:
    await HANDLERS[kind](jobs, {})


async def get(world, who, path: str, status: int = 200, **params: Any) -> dict:
    response = await world.client.get(path, params=params, headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def tags(world, who, cid: str) -> list[str]:
    return [t["tag"] for t in (await get(world, who, f"/v1/communities/{cid}/interests/mine"))["tags"]]


async def open_poll(world, owner, cid: str) -> str:
    now = datetime.now(UTC)
    body = {
        "title": "新品命名",
        "proposalsCloseAt": (now + timedelta(hours=1)).isoformat(),
        "votingCloseAt": (now + timedelta(hours=2)).isoformat(),
    }
    response = await world.client.post(f"/v1/communities/{cid}/polls", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def inbox(world, who, kind: str | None = None) -> list[dict]:
    response = await world.client.get("/v1/me/notifications", params={"limit": 50}, headers=who.headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=NotificationPage)
    return [item for item in response.json()["items"] if kind is None or item["kind"] == kind]


async def robot_on(world, owner, cid: str) -> None:
    body = {"enabled": True, "activeFrom": "00:00", "activeUntil": "00:00"}
    response = await world.client.put(f"/v1/communities/{cid}/warmup", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text


async def opt(world, who, introductions: bool) -> dict:
    body = {"introductions": introductions}
    response = await world.client.put("/v1/me/interest-settings", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()
