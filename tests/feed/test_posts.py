"""Posts, comments with replies, likes, shares, essence, edits and deletes over HTTP, with the permission
checks of each (non-member, removed member, another community's admin)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from service.core.messaging import wechat_of
from service.feed.jobs import recheck_pending
from service.interactions.jobs import rollup
from tests.factories import approve_photo, upload_photo
from tests.feed.conftest import events
from tests.seed import at
from tests.world import assert_problem


async def test_a_post_with_comments_replies_likes_and_shares(world, db):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    photo = await upload_photo(world.client, bob)
    await approve_photo(db, photo)
    post = await world.post(bob, cid, "周六早上跑步吗", imageIds=[photo])
    assert post["status"] == "visible" and post["author"] == {"id": str(bob.id), "nickname": "bob", "avatarUrl": ""}
    assert [image["id"] for image in post["images"]] == [photo] and post["imageUrls"] == []
    first = [await world.comment(who, post["id"], f"comment {n}") for n, who in enumerate([alice, carol, alice, carol])]
    reply = await world.comment(bob, post["id"], "thanks!", parent=first[0]["id"])
    assert reply["parentId"] == first[0]["id"] and reply["replyToId"] == first[0]["id"]
    # A reply to a reply joins the thread and answers that reply.
    nested = await world.comment(alice, post["id"], "you're welcome", parent=reply["id"])
    assert nested["parentId"] == first[0]["id"] and nested["replyToId"] == reply["id"]
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=alice.headers)).json()["likeCount"] == 1
    shared = await world.client.post(f"/v1/posts/{post['id']}/share", json={"target": "group"}, headers=carol.headers)
    assert shared.status_code == 201 and shared.json()["shareCount"] == 1 and shared.json()["target"] == "group"

    item = (await world.feed(alice, cid))["items"][0]
    assert item["id"] == post["id"]
    assert (item["likeCount"], item["commentCount"], item["shareCount"]) == (1, 6, 1)
    assert item["likedByMe"] is True and item["essence"] is False
    assert [c["text"] for c in item["firstComments"]] == ["comment 0", "comment 1", "comment 2"]
    assert item["firstComments"][0]["replyCount"] == 2
    assert (await world.feed(carol, cid))["items"][0]["likedByMe"] is False

    threads = await world.comments(carol, post["id"])
    assert [t["text"] for t in threads["items"]] == ["comment 0", "comment 1", "comment 2", "comment 3"]
    assert [r["text"] for r in threads["items"][0]["replies"]] == ["thanks!", "you're welcome"]
    replies = await world.comments(carol, post["id"], parentId=first[0]["id"], limit=1)
    assert [r["text"] for r in replies["items"]] == ["thanks!"] and replies["nextCursor"]
    rest = await world.comments(carol, post["id"], parentId=first[0]["id"], cursor=replies["nextCursor"])
    assert [r["text"] for r in rest["items"]] == ["you're welcome"] and rest["nextCursor"] is None
    # Threads page by cursor too: three then one, neither repeated nor skipped.
    head = await world.comments(carol, post["id"], limit=3)
    tail = await world.comments(carol, post["id"], cursor=head["nextCursor"])
    assert [t["text"] for t in head["items"] + tail["items"]] == [f"comment {n}" for n in range(4)]
    assert tail["nextCursor"] is None

    # Every action was recorded once, in its own transaction; the welcome robot's posts never were.
    kinds = [kind for kind, *_ in await events(db) if kind not in ("join",)]
    assert sorted(kinds) == sorted(["post"] + ["comment"] * 6 + ["like", "share"])
    assert await db.fetchval("SELECT target FROM post_shares") == "group"


async def test_the_replies_of_a_deleted_thread_go_with_it(world):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周六早上跑步吗")
    thread = await world.comment(bob, post["id"], "我去")
    await world.comment(carol, post["id"], "我也去", parent=thread["id"])
    assert [r["text"] for r in (await world.comments(alice, post["id"], parentId=thread["id"]))["items"]] == ["我也去"]

    assert (await world.client.delete(f"/v1/comments/{thread['id']}", headers=bob.headers)).status_code == 204
    assert (await world.comments(alice, post["id"]))["items"] == []
    response = await world.client.get(
        f"/v1/posts/{post['id']}/comments", params={"parentId": thread["id"]}, headers=alice.headers
    )
    assert_problem(response, 404, "not_found")


async def test_a_deleted_thread_takes_its_replies_out_of_the_comment_count(world, db, jobs):
    """commentCount counts the comments a member can see: a deleted thread's replies are seen nowhere (above), so
    they leave the count with it, once: deleting one of them afterwards takes nothing more, and a reply WeChat
    passes after its thread was deleted is never counted."""
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周六早上跑步吗")
    thread = await world.comment(bob, post["id"], "我去")
    replies = [await world.comment(who, post["id"], "我也去", parent=thread["id"]) for who in (carol, alice)]
    await world.comment(carol, post["id"], "几点集合")

    async def count() -> int:
        return next(i for i in (await world.feed(alice, cid))["items"] if i["id"] == post["id"])["commentCount"]

    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    late = await world.comment(carol, post["id"], "等等我", parent=thread["id"])
    await world.sandbox.control("DELETE", "/sandbox/faults")
    assert late["status"] == "pending"
    assert await count() == 4
    assert (await world.client.delete(f"/v1/comments/{thread['id']}", headers=bob.headers)).status_code == 204
    assert [t["text"] for t in (await world.comments(alice, post["id"]))["items"]] == ["几点集合"]
    assert await count() == 1
    assert (await world.client.delete(f"/v1/comments/{replies[0]['id']}", headers=carol.headers)).status_code == 204
    assert await count() == 1
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1
    assert await db.fetchval("SELECT status FROM comments WHERE id = $1", int(late["id"])) == "visible"
    assert await db.fetchval("SELECT comment_count FROM posts WHERE id = $1", int(post["id"])) == 1


async def test_shares_count_members_not_clicks(world, db):
    """One member sharing again and again (a script) does not lift a post up the hot order or into the digest: each
    share keeps its own code and row (referrals, groups reached), the count counts the members who shared it."""
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    mine = await world.post(bob, cid, "我的帖子")
    other = await world.post(alice, cid, "周六跑步")
    url = f"/v1/posts/{mine['id']}/share"
    answers = await asyncio.gather(
        *(world.client.post(url, json={"target": "group"}, headers=bob.headers) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201} and len({a.json()["code"] for a in answers}) == 6
    assert {a.json()["shareCount"] for a in answers} == {1}
    await world.client.post(f"/v1/posts/{other['id']}/share", json={"target": "chat"}, headers=carol.headers)
    shared = await world.client.post(url, json={"target": "chat"}, headers=carol.headers)
    assert shared.json()["shareCount"] == 2
    assert await db.fetchval("SELECT count(*) FROM post_shares WHERE post_id = $1", int(mine["id"])) == 7
    hot = await world.feed(alice, cid, order="hot")
    assert [(i["id"], i["shareCount"]) for i in hot["items"][:2]] == [(mine["id"], 2), (other["id"], 1)]


async def test_likes_are_idempotent_and_race_free(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid, "like me")
    url = f"/v1/posts/{post['id']}/like"
    answers = await asyncio.gather(*(world.client.put(url, headers=bob.headers) for _ in range(6)))
    assert {a.status_code for a in answers} == {200} and {a.json()["likeCount"] for a in answers} == {1}
    again = await world.client.put(url, headers=bob.headers)
    assert again.json() == {"postId": post["id"], "liked": True, "likeCount": 1}
    assert len(await events(db, "like")) == 1
    for _ in range(2):
        gone = await world.client.delete(url, headers=bob.headers)
        assert gone.status_code == 200 and gone.json() == {"postId": post["id"], "liked": False, "likeCount": 0}
    assert await db.fetchval("SELECT like_count FROM posts WHERE id = $1", int(post["id"])) == 0
    assert (await world.feed(bob, cid))["items"][0]["likedByMe"] is False


async def test_a_like_taken_back_and_given_again_counts_once_for_the_author(world, db, jobs, settings):
    """Likes received (docs/metrics.md) count members who liked, not clicks: like/unlike five times and like again
    gives the author one like, recorded once (it once gave six)."""
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "今天在奥森跑了十公里，风景很好")
    url = f"/v1/posts/{post['id']}/like"
    for _ in range(5):
        assert (await world.client.put(url, headers=carol.headers)).status_code == 200
        assert (await world.client.delete(url, headers=carol.headers)).status_code == 200
    liked = await world.client.put(url, headers=carol.headers)
    assert liked.json() == {"postId": post["id"], "liked": True, "likeCount": 1}
    assert len(await events(db, "like")) == 1
    await rollup(jobs, {})
    today = datetime.now(ZoneInfo(settings.metrics_timezone)).date().isoformat()
    params = {"from": today, "to": today}
    board = await world.client.get(f"/v1/communities/{cid}/leaderboard", params=params, headers=alice.headers)
    assert board.status_code == 200, board.text
    details = {item["userId"]: item["details"] for item in board.json()["items"]}
    assert details[str(bob.id)]["likesReceived"] == 1


async def test_only_active_members_read_and_write(world, db):
    alice, bob, carol, dave = [await world.member(n) for n in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol)
    other = await world.community(dave, name="Other")  # dave: an admin (owner) elsewhere, a stranger here
    post = await world.post(bob, cid, "members only")
    pid = post["id"]
    for who in (dave,):
        assert_problem(await world.client.get(f"/v1/communities/{cid}/feed", headers=who.headers), 403, "not_member")
        assert_problem(await world.client.get(f"/v1/posts/{pid}", headers=who.headers), 403, "not_member")
        assert_problem(await world.client.get(f"/v1/posts/{pid}/comments", headers=who.headers), 403, "not_member")
        assert_problem(await world.client.put(f"/v1/posts/{pid}/like", headers=who.headers), 403, "not_member")
        assert_problem(await world.client.put(f"/v1/posts/{pid}/essence", headers=who.headers), 403, "not_member")
        assert_problem(await world.client.delete(f"/v1/posts/{pid}", headers=who.headers), 403, "not_member")
        response = await world.client.post(f"/v1/communities/{cid}/posts", json={"text": "hi"}, headers=who.headers)
        assert_problem(response, 403, "not_member")
        response = await world.client.post(f"/v1/posts/{pid}/comments", json={"text": "hi"}, headers=who.headers)
        assert_problem(response, 403, "not_member")
    assert_problem(await world.client.get("/v1/communities/999999/feed", headers=bob.headers), 404, "not_found")
    assert_problem(await world.client.get("/v1/posts/999999", headers=bob.headers), 404, "not_found")
    assert (await world.feed(dave, other))["items"] == []

    # A plain member can neither mark essence nor delete someone else's post.
    assert_problem(await world.client.put(f"/v1/posts/{pid}/essence", headers=carol.headers), 403, "forbidden")
    assert_problem(await world.client.delete(f"/v1/posts/{pid}", headers=carol.headers), 403, "forbidden")
    response = await world.client.put(f"/v1/posts/{pid}", json={"text": "mine now"}, headers=carol.headers)
    assert_problem(response, 403, "forbidden")

    # Removed: access ends at once.
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    assert removed.status_code == 204
    assert_problem(await world.client.get(f"/v1/communities/{cid}/feed", headers=bob.headers), 403, "not_member")
    response = await world.client.post(f"/v1/posts/{pid}/comments", json={"text": "still here?"}, headers=bob.headers)
    assert_problem(response, 403, "not_member")
    assert_problem(
        await world.client.get("/v1/communities/1/feed?cursor=%%%", headers=alice.headers), 400, "validation_failed"
    )


async def test_a_removed_member_deletes_neither_their_posts_nor_their_comments(world, db):
    """Removed or departed members lose access at once (docs/feed.md): their own words included, a comment as a post;
    what a moderator may still have to judge stays as it is."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    post = await world.post(bob, cid, "周六跑步")
    comment = await world.comment(bob, post["id"], "加我微信")
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    assert removed.status_code == 204
    assert_problem(await world.client.delete(f"/v1/posts/{post['id']}", headers=bob.headers), 403, "not_member")
    assert_problem(await world.client.delete(f"/v1/comments/{comment['id']}", headers=bob.headers), 403, "not_member")
    assert await db.fetchval("SELECT deleted_at FROM comments WHERE id = $1", int(comment["id"])) is None
    # The admin still deletes it.
    assert (await world.client.delete(f"/v1/comments/{comment['id']}", headers=alice.headers)).status_code == 204


async def test_edit_window_and_soft_delete(world, db):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "typo hre")
    poll = await new_poll(world, alice, cid)
    edited = await world.client.put(
        f"/v1/posts/{post['id']}", json={"text": "typo here", "link": {"kind": "poll", "id": poll}}, headers=bob.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "typo here" and edited.json()["editedAt"] and edited.json()["link"]["id"] == poll
    await db.execute("UPDATE posts SET created_at = created_at - interval '16 minutes' WHERE id = $1", int(post["id"]))
    late = await world.client.put(f"/v1/posts/{post['id']}", json={"text": "too late"}, headers=bob.headers)
    assert_problem(late, 409, "edit_window_closed")

    comment = await world.comment(carol, post["id"], "first!")
    assert (await world.client.delete(f"/v1/comments/{comment['id']}", headers=carol.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/comments/{comment['id']}", headers=carol.headers)).status_code == 204
    assert (await world.feed(bob, cid))["items"][0]["commentCount"] == 0

    # The author deletes; the row stays for audit. An admin deletes another post: the audit log says so.
    assert (await world.client.delete(f"/v1/posts/{post['id']}", headers=bob.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/posts/{post['id']}", headers=bob.headers)).status_code == 204
    assert post["id"] not in [i["id"] for i in (await world.feed(alice, cid))["items"]]
    assert await db.fetchval("SELECT deleted_by FROM posts WHERE id = $1", int(post["id"])) == bob.id
    assert_problem(await world.client.get(f"/v1/posts/{post['id']}", headers=bob.headers), 404, "not_found")
    other = await world.post(carol, cid, "spam spam")
    assert (await world.client.delete(f"/v1/posts/{other['id']}", headers=alice.headers)).status_code == 204
    log = (await world.client.get(f"/v1/communities/{cid}/audit-log", headers=alice.headers)).json()["items"]
    assert log[0]["action"] == "post.deleted" and log[0]["subjectId"] == str(carol.id)


async def test_essence_by_admins(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    posts = [await world.post(bob, cid, f"good post {n}") for n in range(3)]
    url = f"/v1/posts/{posts[0]['id']}/essence"
    first = await world.client.put(url, headers=alice.headers)
    again = await world.client.put(url, headers=alice.headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["essence"] is True and first.json()["essenceAt"] == again.json()["essenceAt"]
    await world.client.put(f"/v1/posts/{posts[2]['id']}/essence", headers=alice.headers)
    listed = await world.client.get(f"/v1/communities/{cid}/essence", headers=bob.headers)
    assert [i["id"] for i in listed.json()["items"]] == [posts[2]["id"], posts[0]["id"]]
    assert all(item["essence"] for item in listed.json()["items"])
    page = await world.client.get(f"/v1/communities/{cid}/essence", params={"limit": 1}, headers=bob.headers)
    rest = await world.client.get(
        f"/v1/communities/{cid}/essence", params={"cursor": page.json()["nextCursor"]}, headers=bob.headers
    )
    assert [i["id"] for i in rest.json()["items"]] == [posts[0]["id"]]
    removed = await world.client.delete(url, headers=alice.headers)
    assert removed.json() == {"postId": posts[0]["id"], "essence": False, "essenceAt": None}
    actions = [
        e["action"]
        for e in (await world.client.get(f"/v1/communities/{cid}/audit-log", headers=alice.headers)).json()["items"]
    ]
    assert actions.count("post.essence") == 2 and actions.count("post.essence_removed") == 1


async def test_my_feed_skips_unfollowed_and_muted_communities(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    runners = await world.community(alice, bob, name="Runners")
    readers = await world.community(alice, bob, name="Readers")
    cooks = await world.community(alice, bob, name="Cooks")
    for cid, text in ((runners, "run"), (readers, "read"), (cooks, "cook")):
        await world.post(alice, cid, text)
    me = f"/v1/communities/{readers}/members/me"
    assert (await world.client.put(me, json={"unfollowed": True}, headers=bob.headers)).status_code == 200
    me = f"/v1/communities/{cooks}/members/me"
    assert (await world.client.put(me, json={"notificationsMuted": True}, headers=bob.headers)).status_code == 200
    mine = (await world.client.get("/v1/feed", headers=bob.headers)).json()["items"]
    assert [i["text"] for i in mine if i["kind"] == "post"] == ["run"]
    assert {i["communityId"] for i in mine} == {runners}
    # Still readable in their own feeds.
    assert [i["text"] for i in (await world.feed(bob, readers))["items"] if i["kind"] == "post"] == ["read"]
    page = (await world.client.get("/v1/feed", params={"limit": 1}, headers=alice.headers)).json()
    assert len(page["items"]) == 1 and page["nextCursor"]
    # Paged two at a time, her feed is the same items as in one page, neither repeated nor skipped.
    whole = (await world.client.get("/v1/feed", headers=alice.headers)).json()["items"]
    paged, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        part = (await world.client.get("/v1/feed", params=params, headers=alice.headers)).json()
        paged += part["items"]
        if not (cursor := part["nextCursor"]):
            break
    assert [i["id"] for i in paged] == [i["id"] for i in whole] and len(whole) >= 3
    wrong = await world.client.get(
        f"/v1/communities/{runners}/feed", params={"cursor": page["nextCursor"]}, headers=alice.headers
    )
    assert_problem(wrong, 400, "validation_failed")


async def new_poll(world, admin, cid: str) -> str:
    body = {"title": "新款冷萃咖啡", "proposalsCloseAt": at(hours=1), "votingCloseAt": at(hours=2)}
    created = await world.client.post(f"/v1/communities/{cid}/polls", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_post_links_only_to_a_poll_of_its_own_community(world, db):
    """A poll of another community, or an id no poll has, is refused when posting and when editing."""
    alice, bob, dave = await world.member("alice"), await world.member("bob"), await world.member("dave")
    cid, other = await world.community(alice, bob), await world.community(dave)
    own, foreign = await new_poll(world, alice, cid), await new_poll(world, dave, other)
    for poll_id in (foreign, "999999"):
        body = {"text": "投票啦", "link": {"kind": "poll", "id": poll_id}}
        answer = await world.client.post(f"/v1/communities/{cid}/posts", json=body, headers=bob.headers)
        problem = assert_problem(answer, 400, "validation_failed")
        assert problem["errors"][0]["field"] == "link.id"
    assert await db.fetchval("SELECT count(*) FROM posts WHERE link_kind = 'poll'") == 0  # nothing half-written
    post = await world.post(bob, cid, "投票啦", link={"kind": "poll", "id": own})
    assert post["link"] == {"kind": "poll", "id": own}
    moved = await world.client.put(
        f"/v1/posts/{post['id']}", json={"link": {"kind": "poll", "id": foreign}}, headers=bob.headers
    )
    assert_problem(moved, 400, "validation_failed")
    # Editing the text alone keeps the link; removing it is always allowed.
    kept = await world.client.put(f"/v1/posts/{post['id']}", json={"text": "投票啦！"}, headers=bob.headers)
    assert kept.status_code == 200 and kept.json()["link"] == {"kind": "poll", "id": own}
    dropped = await world.client.put(f"/v1/posts/{post['id']}", json={"link": None}, headers=bob.headers)
    assert dropped.status_code == 200 and dropped.json()["link"] is None


async def test_an_edit_waiting_on_wechat_as_its_author_is_removed_is_not_stored(world, db):
    """The edit checked the author's membership before WeChat's content check, and not again after it: a member an
    admin removed meanwhile still changed her post. The transaction checks her standing again, as a new post does."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    written = "周六早上七点，西湖边集合"
    post = await world.post(bob, cid, written)
    await world.sandbox.fault("slow", count=1, delay=2.0, path_prefix="/wxa/msg_sec_check")
    body = {"text": "改到周日早上七点"}
    editing = asyncio.create_task(world.client.put(f"/v1/posts/{post['id']}", json=body, headers=bob.headers))
    for _ in range(250):  # until the edit's check reached WeChat (it passed the membership check)
        if world.sandbox.state.fault is None:
            break
        await asyncio.sleep(0.02)
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(await editing, 403, "not_member")
    assert await db.fetchval("SELECT text FROM posts WHERE id = $1", int(post["id"])) == written
