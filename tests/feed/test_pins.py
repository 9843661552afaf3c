"""Pinned notices over HTTP (docs/search.md): admins pin up to 3 visible posts; the feed's first page starts with
them in the order pinned, marked, never repeated below; unpin; cached pages (a TTL of a minute here) follow a
pin or an unpin at once."""

from __future__ import annotations

import pytest

from tests.support import make_settings
from tests.world import assert_problem


@pytest.fixture
def settings(database_url, sandbox):
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, feed_cache_seconds=60)


def ids(page: dict) -> list[tuple[str, bool]]:
    return [(item["id"], item["pinned"]) for item in page["items"] if item["robot"] is None]


async def pin(world, who, cid: str, post_id: str, status: int = 200):
    response = await world.client.post(f"/v1/communities/{cid}/pins", json={"postId": post_id}, headers=who.headers)
    assert response.status_code == status, response.text
    return response


async def test_pinned_posts_come_first_in_the_order_pinned_and_once(world, db):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    a, b, c, d = [await world.post(alice, cid, f"第{i}条") for i in range(4)]
    assert ids(await world.feed(bob, cid)) == [(d["id"], False), (c["id"], False), (b["id"], False), (a["id"], False)]

    await pin(world, alice, cid, b["id"])
    pins = (await pin(world, alice, cid, a["id"])).json()["items"]
    assert [p["postId"] for p in pins] == [b["id"], a["id"]] and pins[0]["pinnedBy"] == str(alice.id)
    await pin(world, alice, cid, b["id"])  # again: unchanged
    # The cached page was read before the pins: every reader gets them at once.
    expected = [(b["id"], True), (a["id"], True), (d["id"], False), (c["id"], False)]
    assert ids(await world.feed(bob, cid)) == expected
    assert ids(await world.feed(bob, cid, order="hot"))[:2] == expected[:2]

    first = await world.feed(bob, cid, limit=1)  # pins come on top of the page size, and only on page one
    assert ids(first) == expected[:3]
    second = await world.feed(bob, cid, limit=1, cursor=first["nextCursor"])
    assert ids(second) == [(c["id"], False)]
    post = (await world.client.get(f"/v1/posts/{a['id']}", headers=bob.headers)).json()
    assert post["pinned"] is True

    unpinned = await world.client.delete(f"/v1/communities/{cid}/pins/{b['id']}", headers=alice.headers)
    assert unpinned.status_code == 200 and [p["postId"] for p in unpinned.json()["items"]] == [a["id"]]
    again = await world.client.delete(f"/v1/communities/{cid}/pins/{b['id']}", headers=alice.headers)
    assert again.status_code == 200  # idempotent
    assert ids(await world.feed(bob, cid)) == [(a["id"], True), (d["id"], False), (c["id"], False), (b["id"], False)]
    actions = await db.fetch("SELECT action FROM community_audit_log WHERE action LIKE 'post.%pinned' ORDER BY id")
    assert [r["action"] for r in actions] == ["post.pinned", "post.pinned", "post.unpinned"]


async def test_at_most_three_pins_and_only_visible_posts_of_the_community(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob)
    other = await world.community(carol)
    posts = [await world.post(alice, cid, f"公告{i}") for i in range(4)]
    for post in posts[:3]:
        await pin(world, alice, cid, post["id"])
    full = assert_problem(await pin(world, alice, cid, posts[3]["id"], 409), 409, "pin_limit_reached")
    assert full["userMessage"].startswith("最多置顶 3 条")

    held = await world.post(bob, cid, "公告 sandbox-review")
    assert_problem(await pin(world, alice, cid, held["id"], 409), 409, "post_not_pinnable")
    elsewhere = await world.post(carol, other, "别处的帖子")
    assert_problem(await pin(world, alice, cid, elsewhere["id"], 404), 404, "not_found")
    assert_problem(await pin(world, bob, cid, posts[3]["id"], 403), 403, "forbidden")
    assert_problem(await pin(world, carol, cid, posts[3]["id"], 403), 403, "not_member")

    # A deleted pinned post frees its place.
    assert (await world.client.delete(f"/v1/posts/{posts[0]['id']}", headers=alice.headers)).status_code == 204
    deleted = await pin(world, alice, cid, posts[0]["id"], 404)
    assert_problem(deleted, 404, "not_found")
    pins = (await pin(world, alice, cid, posts[3]["id"])).json()["items"]
    assert [p["postId"] for p in pins] == [posts[1]["id"], posts[2]["id"], posts[3]["id"]]
    assert await db.fetchval("SELECT count(*) FROM post_pins") == 3
