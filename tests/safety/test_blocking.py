"""Blocking over HTTP: the blocked member's posts and comments leave my feeds and comment lists (through the page
cache too) and stay visible to others; they cannot reply to me or notify me; member lists hide both ways; unblock
restores; the list, its limit and bad input."""

from __future__ import annotations

import asyncio
import json

from service.core.messaging import wechat_of
from service.feed.jobs import send_notification
from service.feed.mentions import MESSAGE_KIND, message
from tests.safety.conftest import MAX_BLOCKS, block, ids, inbox, unblock
from tests.world import assert_problem


async def test_a_blocked_members_posts_and_comments_leave_my_feeds_not_others(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    carols = await world.post(carol, cid, "周末去爬山")
    bobs = await world.post(bob, cid, "加我好友")
    said = await world.comment(bob, carols["id"], "我也去")
    answer = await world.comment(carol, carols["id"], "好呀", parent=said["id"])
    await world.comment(carol, carols["id"], "七点集合")

    blocked = await block(world, alice, bob)
    assert blocked["userId"] == str(bob.id) and blocked["nickname"] == "bob" and blocked["blockedAt"]

    def members_posts(page: dict) -> list[dict]:
        return [item for item in page["items"] if item["robot"] is None]

    # carol reads first, so alice's page comes from the shared page cache
    assert [p["id"] for p in members_posts(await world.feed(carol, cid))] == [bobs["id"], carols["id"]]
    for order in ("latest", "hot"):
        [shown] = members_posts(await world.feed(alice, cid, order=order))
        assert shown["id"] == carols["id"]
        assert [c["text"] for c in shown["firstComments"]] == ["七点集合"]
    mine = (await world.client.get("/v1/feed", headers=alice.headers)).json()
    assert [p["id"] for p in members_posts(mine)] == [carols["id"]]
    threads = await world.comments(alice, carols["id"])
    assert [c["text"] for c in threads["items"]] == ["七点集合"]
    replies = await world.comments(alice, carols["id"], parentId=said["id"])  # the thread opened by its link
    assert [c["id"] for c in replies["items"]] == [answer["id"]]

    # others still see everything
    page = members_posts(await world.feed(carol, cid))
    assert [p["id"] for p in page] == [bobs["id"], carols["id"]]
    assert [c["text"] for c in page[1]["firstComments"]] == ["我也去", "七点集合"]
    assert [c["text"] for c in (await world.comments(carol, carols["id"]))["items"]] == ["我也去", "七点集合"]

    # bob does not know: alice's content is still his to read
    await world.post(alice, cid, "大家好")
    assert len(members_posts(await world.feed(bob, cid))) == 3

    await unblock(world, alice, bob)
    await unblock(world, alice, bob)  # unblocking twice is fine
    await asyncio.sleep(1.1)  # past the page cache
    assert bobs["id"] in [p["id"] for p in members_posts(await world.feed(alice, cid))]
    assert len((await world.comments(alice, carols["id"]))["items"]) == 2


async def test_a_cached_page_leaves_out_the_blocked_members_posts_for_me_alone(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    posts = [await world.post(who, cid, text) for who, text in ((carol, "一"), (bob, "二"), (carol, "三"))]
    await block(world, alice, bob)
    members = [p["id"] for p in posts]
    for _ in range(2):  # carol's read fills the cache, alice's is finished from it, then carol's again
        for who, expected in ((carol, members[::-1]), (alice, [members[2], members[0]])):
            page = await world.feed(who, cid)
            assert [item for item in ids(page) if item in members] == expected


async def test_a_blocked_member_cannot_reply_to_me_nor_notify_me(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "今晚夜跑")
    mine = await world.comment(alice, post["id"], "八点出发")
    carols_post = await world.post(carol, cid, "明早游泳")
    carols = await world.comment(carol, carols_post["id"], "谁来")
    await block(world, alice, bob)

    on_my_post = await world.comment(carol, post["id"], "我也跑")

    async def comment(post_id: str, **body) -> dict:
        response = await world.client.post(
            f"/v1/posts/{post_id}/comments", json={"text": "来了", **body}, headers=bob.headers
        )
        return assert_problem(response, 403, "blocked")

    problem = await comment(post["id"])  # on my post
    assert "屏蔽" in problem["userMessage"]
    await comment(post["id"], parentId=mine["id"])  # to my comment
    await comment(post["id"], parentId=on_my_post["id"])  # under my post, even to carol
    assert await db.fetchval("SELECT count(*) FROM comments WHERE author_id = $1", bob.id) == 0  # nothing written

    # bob still answers carol on her post, and may like mine: neither tells me anything
    await world.comment(bob, carols_post["id"], "我来", parent=carols["id"])
    liked = await world.client.put(f"/v1/posts/{post['id']}/like", headers=bob.headers)
    assert liked.status_code == 200 and liked.json()["likeCount"] == 1  # a like is allowed, but tells alice nothing
    alices = await inbox(world, alice)
    assert [i["actor"]["nickname"] for i in alices["items"]] == ["carol"] and alices["unreadCount"] == 1
    assert [i["kind"] for i in (await inbox(world, carol))["items"]] == ["reply"]
    sent = await db.fetchval("SELECT count(*) FROM feed_notifications WHERE actor_id = $1", bob.id)
    assert sent == 1  # carol's; none to alice

    # the blocker is not refused anything
    await world.comment(alice, carols_post["id"], "加油", parent=carols["id"])


async def test_a_block_before_the_message_job_ran_keeps_the_blocked_members_words_out_of_it(world, db, jobs):
    """Bob's abusive comment and mention: alice blocks him at once, before the jobs send her subscribe messages
    (they may run late, WeChat down). No message carries his words to her."""
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    for template in ("sandbox-comment-template", "sandbox-mention-template"):
        consent = {"user": "alice", "templateId": template, "count": 3}
        await world.sandbox.control("POST", "/sandbox/subscribe-consent", json=consent)
    post = await world.post(alice, cid, "周末去爬山")
    await world.comment(bob, post["id"], "你是个骗子")
    await world.post(bob, cid, "@alice 是个骗子", mentions=[str(alice.id)])
    await block(world, alice, bob)

    [notification] = await db.fetch("SELECT id FROM feed_notifications")
    assert await send_notification(jobs.pool, wechat_of(jobs), jobs.settings, notification["id"]) == "withdrawn"
    for row in await db.fetch("SELECT payload FROM jobs WHERE kind = $1", MESSAGE_KIND):
        await message(jobs, json.loads(row["payload"]))
    sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": alice.openid})
    assert sent["items"] == []


async def test_member_lists_hide_both_ways(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)

    async def members(who) -> list[str]:
        response = await world.client.get(f"/v1/communities/{cid}/members", headers=who.headers)
        assert response.status_code == 200, response.text
        return sorted(m["nickname"] for m in response.json()["items"])

    await block(world, bob, carol)
    assert await members(bob) == ["alice", "bob"]
    assert await members(carol) == ["alice", "carol"]
    assert await members(alice) == ["alice", "bob", "carol"]
    await unblock(world, bob, carol)
    assert await members(carol) == ["alice", "bob", "carol"]


async def test_the_block_list_pages_newest_first_idempotent_and_limited(world, db):
    me, *others = [await world.member(name) for name in ("me", "a", "b", "c", "d")]
    first = await block(world, me, others[0])
    assert await block(world, me, others[0]) == first  # blocking twice answers the block as it was
    for other in others[1:MAX_BLOCKS]:
        await block(world, me, other)
    full = assert_problem(
        await world.client.post("/v1/me/blocks", json={"userId": str(others[-1].id)}, headers=me.headers),
        409,
        "too_many_blocks",
    )
    assert "屏蔽" in full["userMessage"]
    assert await block(world, me, others[0]) == first  # at the limit, an existing block still answers

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await world.client.get("/v1/me/blocks", params=params, headers=me.headers)).json()
        seen += [item["nickname"] for item in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert seen == ["c", "b", "a"]

    assert_problem(
        await world.client.post("/v1/me/blocks", json={"userId": str(me.id)}, headers=me.headers),
        422,
        "cannot_block_yourself",
    )
    assert_problem(
        await world.client.post("/v1/me/blocks", json={"userId": "999999999"}, headers=me.headers), 404, "not_found"
    )
    for bad in ({}, {"userId": "abc"}, {"userId": 5}, {"userId": "1", "x": 1}):
        assert_problem(await world.client.post("/v1/me/blocks", json=bad, headers=me.headers), 400, "validation_failed")
    assert await db.fetchval("SELECT count(*) FROM member_blocks WHERE blocker_id = $1", me.id) == MAX_BLOCKS
    assert (await world.client.get("/v1/me/blocks", headers=others[0].headers)).json()["items"] == []


async def test_blocking_at_once_stays_within_the_limit(world, db):
    me, *others = [await world.member(name) for name in ("me", "a", "b", "c", "d", "e")]
    answers = await asyncio.gather(
        *(world.client.post("/v1/me/blocks", json={"userId": str(o.id)}, headers=me.headers) for o in others)
    )
    assert sorted(a.status_code for a in answers) == [200] * MAX_BLOCKS + [409] * (len(others) - MAX_BLOCKS)
    assert await db.fetchval("SELECT count(*) FROM member_blocks WHERE blocker_id = $1", me.id) == MAX_BLOCKS


async def test_search_and_profiles_leave_out_a_blocked_member(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    bobs = await world.post(bob, cid, "今天早上去跑步了")
    await block(world, alice, bob)

    def hits(who) -> list[str]:
        return world.client.get(f"/v1/communities/{cid}/search", params={"q": "跑步"}, headers=who.headers)

    assert [h["id"] for h in (await hits(carol)).json()["items"]] == [bobs["id"]]
    assert (await hits(alice)).json()["items"] == []
    # Neither sees the other's profile (both ways, as in member lists); carol sees both.
    for who, whom in ((alice, bob), (bob, alice)):
        profile = await world.client.get(f"/v1/communities/{cid}/members/{whom.id}", headers=who.headers)
        assert_problem(profile, 404, "not_found")
    assert (await world.client.get(f"/v1/communities/{cid}/members/{bob.id}", headers=carol.headers)).status_code == 200
    await unblock(world, alice, bob)
    assert [h["id"] for h in (await hits(alice)).json()["items"]] == [bobs["id"]]
