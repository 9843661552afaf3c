"""Mentions over HTTP: stored and answered as @nickname, told to the mentioned (inbox with the unread count, a
subscribe message once if they consented), never for one's own action; members only, bounded, not a member who
blocked the author; an edit tells only the newly mentioned."""

from __future__ import annotations

import json

from service.feed.mentions import MESSAGE_KIND, message
from tests.safety.conftest import MAX_MENTIONS, block, inbox
from tests.world import assert_problem

TEMPLATE = "sandbox-mention-template"


async def mention_items(world, who) -> list[tuple[str, str, str]]:
    page = await inbox(world, who)
    return [(i["subjectType"], i["subjectId"], i["actor"]["nickname"]) for i in page["items"] if i["kind"] == "mention"]


async def test_a_mention_reaches_the_inbox_and_renders_as_nicknames(world, db, jobs):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    ids = [str(carol.id), str(bob.id), str(carol.id), str(alice.id)]  # a duplicate and myself
    post = await world.post(alice, cid, "@carol @bob 周六跑步", mentions=ids)
    assert post["mentions"] == [
        {"userId": str(carol.id), "nickname": "carol"},
        {"userId": str(bob.id), "nickname": "bob"},
    ]
    [shown] = [item for item in (await world.feed(bob, cid))["items"] if item["id"] == post["id"]]
    assert shown["mentions"] == post["mentions"]

    for who in (bob, carol):
        page = await inbox(world, who)
        assert [(i["kind"], i["subjectType"], i["subjectId"], i["data"]) for i in page["items"]] == [
            ("mention", "post", post["id"], {"postId": post["id"]})
        ]
        assert page["unreadCount"] == 1
    assert await mention_items(world, alice) == []  # never for my own action

    comment = await world.comment(bob, post["id"], "好")
    reply = await world.client.post(
        f"/v1/posts/{post['id']}/comments",
        json={"text": "@bob @alice 一起", "parentId": comment["id"], "mentions": [str(bob.id), str(alice.id)]},
        headers=carol.headers,
    )
    assert reply.status_code == 201, reply.text
    assert [m["nickname"] for m in reply.json()["mentions"]] == ["bob", "alice"]
    thread = (await world.comments(alice, post["id"]))["items"][0]["replies"][0]
    assert thread["mentions"] == reply.json()["mentions"]
    # told once each: bob of the reply to him, alice of the comment on her post (the mention in them adds nothing)
    assert [i["kind"] for i in (await inbox(world, bob))["items"]] == ["reply", "mention"]
    assert [i["kind"] for i in (await inbox(world, alice))["items"]] == ["comment", "comment"]
    badge = await world.client.get("/v1/me/notifications/unread-count", headers=alice.headers)
    assert badge.json() == {"unreadCount": 2}
    await world.comment(bob, post["id"], "@carol 你呢", parent=comment["id"])  # no mentions sent: nobody mentioned
    elsewhere = await world.post(bob, cid, "新帖")
    said = await world.client.post(
        f"/v1/posts/{elsewhere['id']}/comments",
        json={"text": "@alice", "mentions": [str(alice.id)]},
        headers=carol.headers,
    )
    assert said.status_code == 201, said.text
    assert await mention_items(world, alice) == [("comment", said.json()["id"], "carol")]
    badge = await world.client.get("/v1/me/notifications/unread-count", headers=alice.headers)
    assert badge.json() == {"unreadCount": 4}  # bob's two comments and carol's reply on her post, the mention

    # the subscribe message: once, to whoever consented
    await world.sandbox.control("POST", "/sandbox/subscribe-consent", json={"user": "carol", "templateId": TEMPLATE})
    for row in await db.fetch("SELECT payload FROM jobs WHERE kind = $1", MESSAGE_KIND):
        payload = json.loads(row["payload"])
        await message(jobs, payload)
        await message(jobs, payload)  # a retried job sends nothing twice
    to_carol = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": carol.openid})
    assert [(m["message"]["template_id"], m["message"]["data"]["thing1"]["value"]) for m in to_carol["items"]] == [
        (TEMPLATE, "alice")
    ]
    to_bob = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid})
    assert [m for m in to_bob["items"] if m["message"]["template_id"] == TEMPLATE] == []  # no consent


async def test_only_members_who_did_not_block_me_within_the_limit(world, db):
    alice, bob, carol, dave, erin = [await world.member(n) for n in ("alice", "bob", "carol", "dave", "erin")]
    cid = await world.community(alice, bob, carol, dave)
    outsider = await world.member("zed")

    async def refused(mentions: list, status: int, code: str) -> dict:
        response = await world.client.post(
            f"/v1/communities/{cid}/posts", json={"text": "看这里", "mentions": mentions}, headers=alice.headers
        )
        return assert_problem(response, status, code)

    problem = await refused([str(bob.id), str(outsider.id)], 422, "mention_not_member")
    assert str(outsider.id) in problem["detail"] and problem["userMessage"] == "只能提及本社群的成员。"
    assert [(e["field"], str(outsider.id) in e["message"]) for e in problem["errors"]] == [("mentions", True)]
    await refused([str(erin.id)], 422, "mention_not_member")  # signed in, never joined
    await refused([str(u.id) for u in (bob, carol, dave, erin)], 400, "too_many_mentions")
    await refused(["abc"], 400, "validation_failed")
    await refused(["1"] * 101, 400, "validation_failed")
    assert len({str(u.id) for u in (bob, carol, dave)}) == MAX_MENTIONS
    await world.post(alice, cid, "三个", mentions=[str(u.id) for u in (bob, carol, dave, bob)])  # duplicates count once

    await block(world, carol, alice)
    problem = await refused([str(bob.id), str(carol.id)], 403, "blocked")
    assert "屏蔽" in problem["userMessage"]
    post = await world.post(bob, cid, "大家好")
    response = await world.client.post(
        f"/v1/posts/{post['id']}/comments", json={"text": "@carol", "mentions": [str(carol.id)]}, headers=alice.headers
    )
    assert_problem(response, 403, "blocked")
    # nothing half-written: no post or comment by alice but the one allowed
    assert await db.fetchval("SELECT count(*) FROM posts WHERE author_id = $1", alice.id) == 1
    assert await db.fetchval("SELECT count(*) FROM comments WHERE author_id = $1", alice.id) == 0
    # the block came after the mention above: carol's inbox keeps it, and hears nothing new from alice
    assert len(await mention_items(world, carol)) == 1


async def test_an_edit_tells_only_the_newly_mentioned(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周末", mentions=[str(bob.id)])

    async def edit(body: dict, status: int = 200) -> dict:
        response = await world.client.put(f"/v1/posts/{post['id']}", json=body, headers=alice.headers)
        assert response.status_code == status, response.text
        return response.json()

    edited = await edit({"mentions": [str(bob.id), str(carol.id)]})
    assert [m["nickname"] for m in edited["mentions"]] == ["bob", "carol"]
    edited = await edit({"text": "周末见", "mentions": [str(carol.id)]})
    assert [m["nickname"] for m in edited["mentions"]] == ["carol"]
    await edit({"mentions": [str(bob.id), str(carol.id)]})  # bob again: told once already
    assert len(await mention_items(world, bob)) == 1
    assert len(await mention_items(world, carol)) == 1
    assert (await edit({"text": "不变"}))["mentions"] == [
        {"userId": str(bob.id), "nickname": "bob"},
        {"userId": str(carol.id), "nickname": "carol"},
    ]  # unchanged when not sent
    assert_problem(
        await world.client.put(f"/v1/posts/{post['id']}", json={"mentions": ["999999999"]}, headers=alice.headers),
        422,
        "mention_not_member",
    )


async def test_a_held_post_tells_nobody_until_it_is_shown(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    held = await world.post(alice, cid, "please sandbox-review this", mentions=[str(bob.id)])
    assert held["status"] == "pending" and [m["nickname"] for m in held["mentions"]] == ["bob"]
    assert await mention_items(world, bob) == []


async def test_no_message_tells_of_a_mention_gone_before_the_job_ran(world, db, jobs):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    for name in ("bob", "carol"):
        await world.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": 2}
        )
    deleted = await world.post(alice, cid, "@bob 加我微信", mentions=[str(bob.id)])
    kept = await world.post(alice, cid, "@bob @carol 周六跑步", mentions=[str(bob.id), str(carol.id)])
    assert (await world.client.delete(f"/v1/posts/{deleted['id']}", headers=alice.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/communities/{cid}/members/me", headers=carol.headers)).status_code == 204

    # The jobs run late: after the deletion, and after carol left.
    for row in await db.fetch("SELECT payload FROM jobs WHERE kind = $1 ORDER BY id", MESSAGE_KIND):
        await message(jobs, json.loads(row["payload"]))

    async def told(who) -> list[str]:
        sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": who.openid})
        return [m["message"]["data"]["thing2"]["value"] for m in sent["items"]]

    assert await told(bob) == ["@bob @carol 周六跑步"] and kept["mentions"]
    assert await told(carol) == []


async def test_no_message_tells_of_a_mention_in_a_comment_whose_post_or_thread_went(world, db, jobs):
    """A comment is seen with its post, a reply with its thread (docs/feed.md): deleted, hidden or removed by the time
    the job runs, the comment's mention is no message either."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    await world.sandbox.control(
        "POST", "/sandbox/subscribe-consent", json={"user": "bob", "templateId": TEMPLATE, "count": 3}
    )

    async def comment(post_id: str, text: str, parent: str | None = None) -> dict:
        body = {"text": text, "mentions": [str(bob.id)], **({"parentId": parent} if parent else {})}
        response = await world.client.post(f"/v1/posts/{post_id}/comments", json=body, headers=carol.headers)
        assert response.status_code == 201, response.text
        return response.json()

    gone_post, gone_thread, kept = [await world.post(alice, cid, text) for text in ("周六跑步", "周日爬山", "周一游泳")]
    await comment(gone_post["id"], "@bob 加我微信")
    thread = await world.comment(alice, gone_thread["id"], "几点集合")
    await comment(gone_thread["id"], "@bob 私聊我", parent=thread["id"])
    await comment(kept["id"], "@bob 一起来")
    assert (await world.client.delete(f"/v1/posts/{gone_post['id']}", headers=alice.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/comments/{thread['id']}", headers=alice.headers)).status_code == 204

    for row in await db.fetch("SELECT payload FROM jobs WHERE kind = $1 ORDER BY id", MESSAGE_KIND):
        await message(jobs, json.loads(row["payload"]))
    sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid})
    assert [m["message"]["data"]["thing2"]["value"] for m in sent["items"]] == ["@bob 一起来"]
