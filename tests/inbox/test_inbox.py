"""The inbox over HTTP: replies and likes reach the right members, never their own actions; likes are one item
per post; muted communities stay out of the badge; marking read moves it; decisions on requests, reports and
content arrive; old read items are purged."""

from __future__ import annotations

from service.inbox.jobs import purge
from tests.inbox.conftest import badge, inbox
from tests.world import assert_problem


async def test_replies_and_likes_reach_the_right_inboxes_and_never_my_own(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周末一起跑步")
    comment = await world.comment(bob, post["id"], "算我一个")
    reply = await world.comment(carol, post["id"], "我也来", parent=comment["id"])
    await world.comment(alice, post["id"], "好的")  # the author's own comment: nobody's inbox but... nobody's

    mine = await inbox(world, alice)
    kinds = [(item["kind"], item["actor"]["nickname"]) for item in mine["items"]]
    assert kinds == [("comment", "carol"), ("comment", "bob")] and mine["unreadCount"] == 2
    bobs = await inbox(world, bob)
    assert [(i["kind"], i["subjectId"], i["data"]["postId"]) for i in bobs["items"]] == [
        ("reply", reply["id"], post["id"])
    ]
    assert (await inbox(world, carol))["items"] == []

    for who in (bob, carol, alice):  # alice likes her own post: not in her inbox
        liked = await world.client.put(f"/v1/posts/{post['id']}/like", headers=who.headers)
        assert liked.status_code == 200, liked.text
    mine = await inbox(world, alice)
    likes = [item for item in mine["items"] if item["kind"] == "likes"]
    assert len(likes) == 1 and mine["items"][0] == likes[0]  # one item per post, on top
    # The post's likes, hers too (her like raises nothing, as the count follows the post's likes)
    assert likes[0]["count"] == 3 and likes[0]["actor"]["nickname"] == "carol" and likes[0]["subjectId"] == post["id"]
    assert await badge(world, alice) == 3


async def test_marking_read_moves_the_badge_and_a_new_like_raises_the_item_again(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid)
    await world.comment(bob, post["id"], "第一")
    await world.client.put(f"/v1/posts/{post['id']}/like", headers=bob.headers)
    items = (await inbox(world, alice))["items"]
    assert await badge(world, alice) == 2

    some = await world.client.post("/v1/me/notifications/read", json={"ids": [items[-1]["id"]]}, headers=alice.headers)
    assert some.json() == {"unreadCount": 1}
    others = await world.client.post("/v1/me/notifications/read", json={"ids": [items[0]["id"]]}, headers=bob.headers)
    assert others.json() == {"unreadCount": 0}  # someone else's ids change nothing of mine
    assert await badge(world, alice) == 1
    everything = await world.client.post(
        "/v1/me/notifications/read", json={"upToId": items[0]["id"]}, headers=alice.headers
    )
    assert everything.json() == {"unreadCount": 0}
    assert all(item["read"] for item in (await inbox(world, alice))["items"])

    await world.client.put(f"/v1/posts/{post['id']}/like", headers=carol.headers)
    top = (await inbox(world, alice))["items"][0]
    assert top["kind"] == "likes" and top["read"] is False and top["count"] == 2
    assert int(top["id"]) > int(items[0]["id"]) and await badge(world, alice) == 1

    for bad in ({}, {"upToId": "1", "ids": ["2"]}, {"ids": ["x"]}):
        assert_problem(
            await world.client.post("/v1/me/notifications/read", json=bad, headers=alice.headers),
            400,
            "validation_failed",
        )


async def test_liking_again_after_an_unlike_does_not_raise_the_item_again(world):
    """Likes tell of members, not clicks (as they are recorded and as shares count): one member liking and unliking
    in a loop (a script) must not push the post's item back to the top, unread, and into the badge at will."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid)
    like = f"/v1/posts/{post['id']}/like"
    assert (await world.client.put(like, headers=bob.headers)).status_code == 200
    [told] = (await inbox(world, alice))["items"]
    await world.client.post("/v1/me/notifications/read", json={"upToId": told["id"]}, headers=alice.headers)

    for _ in range(3):
        assert (await world.client.delete(like, headers=bob.headers)).json()["likeCount"] == 0
        assert (await world.client.put(like, headers=bob.headers)).json()["likeCount"] == 1
    assert await badge(world, alice) == 0
    assert (await inbox(world, alice))["items"] == []  # withdrawn at 0 likes; liking again tells nothing

    assert (await world.client.put(like, headers=carol.headers)).status_code == 200  # a new member's like does
    [item] = (await inbox(world, alice))["items"]
    assert int(item["id"]) > int(told["id"]) and not item["read"] and item["count"] == 2
    assert item["actor"]["nickname"] == "carol" and await badge(world, alice) == 1


async def test_a_likes_item_follows_the_posts_likes_down_and_goes_at_zero_without_rising(world):
    """An unlike took nothing off the author's item: it kept its count, and its latest liker, with the post back
    at 0 likes. The item shows the post's likes now, where it is and read or not (no new id, no badge), and is
    withdrawn when nobody likes the post any more."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(alice, cid)
    like = f"/v1/posts/{post['id']}/like"
    for who in (bob, carol):
        assert (await world.client.put(like, headers=who.headers)).status_code == 200
    [told] = (await inbox(world, alice))["items"]
    assert told["count"] == 2 and await badge(world, alice) == 1

    assert (await world.client.delete(like, headers=carol.headers)).json()["likeCount"] == 1
    [item] = (await inbox(world, alice))["items"]
    assert (item["id"], item["read"], item["count"]) == (told["id"], False, 1) and await badge(world, alice) == 1
    await world.client.post("/v1/me/notifications/read", json={"upToId": told["id"]}, headers=alice.headers)
    assert (await world.client.put(like, headers=carol.headers)).json()["likeCount"] == 2  # again: counted, untold
    [item] = (await inbox(world, alice))["items"]
    assert (item["id"], item["read"], item["count"]) == (told["id"], True, 2) and await badge(world, alice) == 0

    for who in (carol, bob):
        assert (await world.client.delete(like, headers=who.headers)).status_code == 200
    assert (await inbox(world, alice))["items"] == [] and await badge(world, alice) == 0
    assert (await world.client.put(like, headers=dave.headers)).status_code == 200  # a first like tells again
    [item] = (await inbox(world, alice))["items"]
    assert (item["count"], item["actor"]["nickname"], item["read"]) == (1, "dave", False)
    assert await badge(world, alice) == 1


async def test_a_muted_community_is_listed_but_left_out_of_the_badge(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid)
    muted = await world.client.put(
        f"/v1/communities/{cid}/members/{alice.id}", json={"notificationsMuted": True}, headers=alice.headers
    )
    assert muted.status_code == 200, muted.text
    await world.comment(bob, post["id"], "你好")
    page = await inbox(world, alice)
    assert [item["kind"] for item in page["items"]] == ["comment"] and page["unreadCount"] == 0


async def test_a_like_counts_in_the_badge_as_the_community_is_muted_now(world):
    """The post's one `likes` item outlives a mute: new likes after muting raise no badge, after unmuting they do."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(alice, cid)
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=bob.headers)).status_code == 200
    assert await badge(world, alice) == 1

    async def notifications(muted: bool) -> None:
        body = {"notificationsMuted": muted}
        answer = await world.client.put(f"/v1/communities/{cid}/members/me", json=body, headers=alice.headers)
        assert answer.status_code == 200, answer.text

    await world.client.post("/v1/me/notifications/read", json={"upToId": "999999"}, headers=alice.headers)
    await notifications(muted=True)
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=carol.headers)).status_code == 200
    page = await inbox(world, alice)
    assert [(i["kind"], i["count"], i["read"]) for i in page["items"]] == [("likes", 2, False)]  # listed ...
    assert page["unreadCount"] == 0 and await badge(world, alice) == 0  # ... not counted

    await notifications(muted=False)
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=dave.headers)).status_code == 200
    assert await badge(world, alice) == 1


async def test_muting_takes_a_communitys_earlier_items_out_of_the_badge_and_leaving_reads_them(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid, other = await world.community(alice, bob), await world.community(alice, bob)
    post, kept = await world.post(alice, cid), await world.post(alice, other)
    await world.comment(bob, post["id"], "第一条")
    await world.comment(bob, kept["id"], "另一个社区")
    assert await badge(world, alice) == 2

    async def notifications(muted: bool) -> None:
        body = {"notificationsMuted": muted}
        answer = await world.client.put(f"/v1/communities/{cid}/members/me", json=body, headers=alice.headers)
        assert answer.status_code == 200, answer.text

    await notifications(muted=True)
    assert await badge(world, alice) == 1  # the muted community's earlier comment no longer counts
    assert len((await inbox(world, alice))["items"]) == 2  # it is still listed
    await notifications(muted=False)
    assert await badge(world, alice) == 2

    # bob leaves the other community with an unread reply there: it stops counting, and stays listed, read.
    reply_to = await world.comment(bob, kept["id"], "bob 的评论")
    await world.comment(alice, kept["id"], "alice 回复", parent=reply_to["id"])
    assert await badge(world, bob) == 1
    left = await world.client.delete(f"/v1/communities/{other}/members/me", headers=bob.headers)
    assert left.status_code == 204, left.text
    assert await badge(world, bob) == 0
    assert [(i["communityId"], i["read"]) for i in (await inbox(world, bob))["items"]] == [(other, True)]


async def test_a_removed_member_hears_nothing_of_writing_they_may_no_longer_open(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(carol, cid, "carol's post")
    thread = await world.comment(carol, post["id"], "carol's comment")
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{carol.id}", headers=alice.headers)
    assert removed.status_code == 204, removed.text

    # A reply to her comment, a comment on and a like of her post: she may open none of them.
    await world.comment(bob, post["id"], "a reply to carol", parent=thread["id"])
    await world.comment(bob, post["id"], "a comment on her post")
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=bob.headers)).status_code == 200
    assert_problem(await world.client.get(f"/v1/posts/{post['id']}", headers=carol.headers), 403, "not_member")
    page = await inbox(world, carol)
    assert [item for item in page["items"] if item["communityId"] == cid] == [] and page["unreadCount"] == 0
    # Members are told as before: bob of alice's reply to his comment and of her like of his post.
    bobs = await world.post(bob, cid, "bob's post")
    answered = await world.comment(bob, bobs["id"], "bob's comment")
    await world.comment(alice, bobs["id"], "alice's reply", parent=answered["id"])
    assert (await world.client.put(f"/v1/posts/{bobs['id']}/like", headers=alice.headers)).status_code == 200
    assert sorted(item["kind"] for item in (await inbox(world, bob))["items"]) == ["likes", "reply"]


async def test_pages_follow_each_other_without_repeats(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid)
    for n in range(5):
        await world.comment(bob, post["id"], f"第{n}条")
    first = await inbox(world, alice, limit=2)
    second = await inbox(world, alice, limit=2, cursor=first["nextCursor"])
    third = await inbox(world, alice, limit=2, cursor=second["nextCursor"])
    ids = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert len(ids) == len(set(ids)) == 5 and third["nextCursor"] is None


async def test_decisions_on_my_request_and_my_report_arrive(world):
    alice, carol = [await world.member(name) for name in ("alice", "carol")]
    cid = await world.community(alice, entryMode="approval")
    asked = await world.client.post(f"/v1/communities/{cid}/join", json={"message": "hi"}, headers=carol.headers)
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request"]["id"]
    rejected = await world.client.post(
        f"/v1/communities/{cid}/join-requests/{request_id}/reject", json={"reason": "名额已满"}, headers=alice.headers
    )
    assert rejected.status_code == 200, rejected.text
    [item] = (await inbox(world, carol))["items"]
    assert item["kind"] == "join_rejected" and item["subjectId"] == cid and item["data"] == {"reason": "名额已满"}


async def test_old_read_items_are_purged(world, db, jobs):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid)
    await world.comment(bob, post["id"], "一")
    await world.comment(bob, post["id"], "二")
    items = (await inbox(world, alice))["items"]
    await world.client.post("/v1/me/notifications/read", json={"ids": [items[1]["id"]]}, headers=alice.headers)
    await db.execute("UPDATE inbox_items SET read_at = now() - interval '31 days' WHERE read_at IS NOT NULL")
    await purge(jobs, {})
    assert [item["id"] for item in (await inbox(world, alice))["items"]] == [items[0]["id"]]


async def test_unread_items_are_purged_too_after_the_longer_unread_retention(world, db, jobs):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid)
    for text in ("一", "二", "三"):
        await world.comment(bob, post["id"], text)
    newest, middle, oldest = [item["id"] for item in (await inbox(world, alice))["items"]]
    assert await badge(world, alice) == 3
    # Unread for longer than INBOX_KEEP_DAYS (30) but within INBOX_UNREAD_KEEP_DAYS (90): kept, still counted.
    await db.execute("UPDATE inbox_items SET created_at = now() - interval '89 days' WHERE id = $1", int(middle))
    await db.execute("UPDATE inbox_items SET created_at = now() - interval '91 days' WHERE id = $1", int(oldest))
    await purge(jobs, {})
    assert [item["id"] for item in (await inbox(world, alice))["items"]] == [newest, middle]
    assert await badge(world, alice) == 2
