"""GET /v1/me/export over HTTP: my rows and only mine, in the documented shape, a few times a day."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest

from service.core.privacy import AccountExport
from service.settings import Settings
from tests.feed.conftest import World
from tests.support import make_settings
from tests.wechat_support import Sandbox
from tests.world import assert_problem


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, export_rate_per_day=2)


async def export(world: World, who) -> dict:
    response = await world.client.get("/v1/me/export", headers=who.headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=AccountExport)  # exactly the documented shape
    return response.json()


async def test_each_member_gets_their_own_rows_and_nothing_of_others(client, sandbox):
    world = World(client, sandbox)
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob, name="读书会")
    post = await world.post(alice, cid, "这周读完了《活着》")
    mine = await world.comment(bob, post["id"], "我也很喜欢这本书")
    assert (await client.put(f"/v1/posts/{post['id']}/like", headers=bob.headers)).status_code in (200, 201, 204)

    of_bob = await export(world, bob)
    assert of_bob["profile"]["id"] == str(bob.id) and of_bob["profile"]["nickname"] == "bob"
    assert [c["id"] for c in of_bob["comments"]] == [mine["id"]]
    assert of_bob["posts"] == []  # alice's post is hers, not in bob's copy
    assert [like["postId"] for like in of_bob["likes"]] == [post["id"]]
    assert [(m["communityName"], m["role"]) for m in of_bob["memberships"]] == [("读书会", "member")]

    of_alice = await export(world, alice)
    assert [p["id"] for p in of_alice["posts"] if p["kind"] == "post"] == [post["id"]]
    assert of_alice["comments"] == [] and of_alice["likes"] == []
    assert {n["kind"] for n in of_alice["notifications"]} >= {"comment"}  # bob's comment, in her inbox


async def test_the_export_is_rate_limited_and_needs_a_token(client, sandbox):
    world = World(client, sandbox)
    alice = await world.member("alice")
    for _ in range(2):
        await export(world, alice)
    limited = assert_problem(await client.get("/v1/me/export", headers=alice.headers), 429, "rate_limited")
    assert limited["userMessage"]
    assert_problem(await client.get("/v1/me/export"), 401, "unauthorized")


async def test_my_rows_come_in_the_order_i_made_them_across_a_longer_id(client, sandbox, database_url):
    # Found by review: posts, comments and notifications were ordered by their id as text ("10" before "9").
    world = World(client, sandbox)
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    conn = await asyncpg.connect(database_url)
    try:
        for table in ("posts", "comments", "inbox_items"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 8)")  # noqa: S608
    finally:
        await conn.close()
    posts = [(await world.post(alice, cid, f"第{n}篇"))["id"] for n in range(3)]
    comments = [(await world.comment(bob, posts[0], f"第{n}条评论"))["id"] for n in range(3)]
    assert posts == ["9", "10", "11"] and comments == ["9", "10", "11"]

    of_alice = await export(world, alice)
    assert [p["id"] for p in of_alice["posts"]] == posts
    notified = [int(n["id"]) for n in of_alice["notifications"]]
    assert notified == sorted(notified) and notified[0] < 10 <= notified[-1]
    assert [c["id"] for c in (await export(world, bob))["comments"]] == comments
