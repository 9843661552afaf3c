"""The inbox tests' world: the feed's (members logged in through the sandbox, a community, posts)."""

from __future__ import annotations

from tests.feed import conftest as feed

# The feed's fixtures, shared.
db, jobs, settings, world = feed.db, feed.jobs, feed.settings, feed.world


async def inbox(world, who, **params) -> dict:
    response = await world.client.get("/v1/me/notifications", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def badge(world, who) -> int:
    response = await world.client.get("/v1/me/notifications/unread-count", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["unreadCount"]
