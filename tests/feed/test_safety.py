"""Content safety through the sandbox's msg_sec_check (scene 3 for posts, 2 for comments): risky is refused,
review is held and hidden from others, an unavailable WeChat keeps the text pending until the recheck job
decides. Newcomer limits answer 429 with Retry-After."""

from __future__ import annotations

import msgspec

from service.core.messaging import wechat_of
from service.feed.jobs import recheck_pending
from tests.factories import upload_photo
from tests.feed.conftest import events
from tests.moderation.conftest import decide, queue, report
from tests.support import api_client, make_settings
from tests.world import assert_problem


async def test_risky_text_is_refused_and_nothing_is_stored(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    body = await world.post(bob, cid, "来 sandbox-risky 一起", status=422)
    assert body["code"] == "content_rejected"
    assert await db.fetchval("SELECT count(*) FROM posts WHERE author_id = $1", bob.id) == 0
    post = await world.post(alice, cid, "a clean post")
    assert (await world.comment(bob, post["id"], "赌博 anyone?", status=422))["code"] == "content_rejected"
    assert await db.fetchval("SELECT count(*) FROM comments") == 0


async def test_review_holds_the_text_for_its_author_only(world, db):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    held = await world.post(bob, cid, "please sandbox-review this")
    assert held["status"] == "pending"
    mine = (await world.feed(bob, cid))["items"]
    assert mine[0]["id"] == held["id"] and mine[0]["status"] == "pending"
    assert held["id"] not in [i["id"] for i in (await world.feed(carol, cid))["items"]]
    assert_problem(await world.client.get(f"/v1/posts/{held['id']}", headers=carol.headers), 404, "not_found")
    assert (await world.client.get(f"/v1/posts/{held['id']}", headers=bob.headers)).json()["status"] == "pending"
    assert_problem(await world.client.put(f"/v1/posts/{held['id']}/like", headers=carol.headers), 404, "not_found")
    response = await world.client.post(f"/v1/posts/{held['id']}/comments", json={"text": "hm"}, headers=carol.headers)
    assert_problem(response, 404, "not_found")
    assert await events(db, "post") == []  # not visible, not activity

    post = await world.post(alice, cid, "a clean post")
    comment = await world.comment(carol, post["id"], "sandbox-review comment")
    assert comment["status"] == "pending"
    assert (await world.feed(alice, cid))["items"][0]["commentCount"] == 0
    assert [c["id"] for c in (await world.comments(carol, post["id"]))["items"]] == [comment["id"]]
    assert (await world.comments(alice, post["id"]))["items"] == []
    assert await db.fetchval("SELECT count(*) FROM feed_notifications") == 0


async def test_unavailable_wechat_keeps_the_post_and_the_job_rechecks_it(world, db, jobs):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    kept = await world.post(bob, cid, "posted while WeChat is down")
    doubtful = await world.post(bob, cid, "also down, but sandbox-risky")
    post = await world.post(alice, cid, "clean")  # alice's: also held
    assert kept["status"] == doubtful["status"] == post["status"] == "pending"
    assert await db.fetchval("SELECT count(*) FROM content_checks") == 3
    assert kept["id"] not in [i["id"] for i in (await world.feed(alice, cid))["items"]]

    # Still down: the job keeps them pending and backs off.
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 3
    assert await db.fetchval("SELECT count(*) FROM content_checks WHERE next_at > now() AND attempts = 1") == 3
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 0  # nothing due yet

    await world.sandbox.control("DELETE", "/sandbox/faults")
    await db.execute("UPDATE content_checks SET next_at = now()")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 3
    statuses = dict(await db.fetch("SELECT id::text, status FROM posts WHERE author_id IS NOT NULL"))
    assert statuses == {kept["id"]: "visible", doubtful["id"]: "rejected", post["id"]: "visible"}
    assert await db.fetchval("SELECT count(*) FROM content_checks") == 0
    assert sorted(e[2] for e in await events(db, "post")) == sorted([int(kept["id"]), int(post["id"])])
    assert kept["id"] in [i["id"] for i in (await world.feed(alice, cid))["items"]]

    # A held comment follows the same path, and counts once it is visible.
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    held = await world.comment(alice, kept["id"], "nice, from a WeChat outage")
    assert held["status"] == "pending"
    await world.sandbox.control("DELETE", "/sandbox/faults")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 0
    item = next(i for i in (await world.feed(bob, cid))["items"] if i["id"] == kept["id"])
    assert item["commentCount"] == 1
    assert len(await events(db, "comment")) == 1


async def test_a_held_comment_whose_post_was_deleted_is_not_counted_when_wechat_passes_it(world, db, jobs):
    """A comment held while WeChat was down, on a post deleted before the recheck passed it: no comment can be
    written on a deleted post, so it is neither counted on the post nor recorded as activity, nor told about."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid, "clean")
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    held = await world.comment(bob, post["id"], "nice, from a WeChat outage")
    assert held["status"] == "pending"
    await world.sandbox.control("DELETE", "/sandbox/faults")
    deleted = await world.client.delete(f"/v1/posts/{post['id']}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1
    assert await db.fetchval("SELECT comment_count FROM posts WHERE id = $1", int(post["id"])) == 0
    assert await events(db, "comment") == []
    assert await db.fetchval("SELECT count(*) FROM feed_notifications") == 0
    assert await db.fetchval("SELECT count(*) FROM content_checks") == 0


async def test_a_held_comment_whose_post_was_removed_is_not_counted_when_wechat_passes_it(world, db, jobs):
    """As on a deleted post: no comment can be written on a post moderation removed, so one held before the
    removal is neither counted on the post nor recorded as activity, nor told about, when WeChat passes it."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(carol, cid, "clean")
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    held = await world.comment(bob, post["id"], "nice, from a WeChat outage")
    assert held["status"] == "pending"
    await world.sandbox.control("DELETE", "/sandbox/faults")
    await report(world, bob, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1
    assert await db.fetchval("SELECT comment_count FROM posts WHERE id = $1", int(post["id"])) == 0
    assert await events(db, "comment") == []
    assert await db.fetchval("SELECT count(*) FROM feed_notifications") == 0


async def test_newcomer_limits(database_url, sandbox, db):
    settings = make_settings(database_url, wechat_api_base=sandbox.url)  # the documented defaults: 24 h, 3, 10, 2
    async with api_client(settings) as client:
        from tests.feed.conftest import World

        world = World(client, sandbox)
        alice, bob = await world.member("alice"), await world.member("bob")
        cid = await world.community(alice, bob)
        posts = [await world.post(bob, cid, f"hello {n}") for n in range(3)]
        over = await client.post(f"/v1/communities/{cid}/posts", json={"text": "a fourth"}, headers=bob.headers)
        problem = assert_problem(over, 429, "rate_limited")
        assert 86000 < int(over.headers["retry-after"]) <= 86400 and problem["retryAfter"] == int(
            over.headers["retry-after"]
        )
        await client.delete(f"/v1/posts/{posts[0]['id']}", headers=bob.headers)  # deleting frees no place
        assert_problem(
            await client.post(f"/v1/communities/{cid}/posts", json={"text": "x"}, headers=bob.headers),
            429,
            "rate_limited",
        )
        # Links: at most 2 in a comment (and a post).
        links = "see https://a.example https://b.example http://c.example"
        assert (await world.comment(bob, posts[1]["id"], links, status=429))["code"] == "rate_limited"
        for n in range(10):
            await world.comment(bob, posts[1]["id"], f"comment {n} https://a.example")
        assert (await world.comment(bob, posts[1]["id"], "an eleventh", status=429))["code"] == "rate_limited"
        # The owner has no limits; after the first day neither has bob.
        for n in range(5):
            await world.post(alice, cid, f"owner post {n} {links}")
        await db.execute("UPDATE memberships SET joined_at = now() - interval '25 hours' WHERE user_id = $1", bob.id)
        await world.post(bob, cid, f"free at last {links}")


async def test_each_item_decodes_to_the_documented_models(world, db):
    from service.feed.models import FeedPage

    alice = await world.member("alice")
    cid = await world.community(alice)
    photo = await upload_photo(world.client, alice)
    await world.post(alice, cid, "", imageIds=[photo])
    # A post written before photos were uploaded keeps its image URLs, shown read-only.
    await db.execute(
        "INSERT INTO posts (community_id, author_id, kind, text, image_urls, status, created_at) "
        "VALUES ($1, $2, 'post', '', $3, 'visible', now() - interval '1 day')",
        int(cid),
        alice.id,
        ["https://cdn.example.com/only-an-image.jpg"],
    )
    response = await world.client.get(f"/v1/communities/{cid}/feed", headers=alice.headers)
    page = msgspec.json.decode(response.content, type=FeedPage)
    assert [image.id for image in page.items[0].images] == [photo] and page.items[0].image_urls == []
    assert page.items[0].text == "" and page.items[0].status == "pending"  # until WeChat passed the photo
    assert page.items[1].image_urls == ["https://cdn.example.com/only-an-image.jpg"] and page.items[1].images == []
    empty = await world.client.post(f"/v1/communities/{cid}/posts", json={"text": "  "}, headers=alice.headers)
    assert_problem(empty, 400, "validation_failed")
    too_many = {"text": "x", "imageIds": [photo] * 10}
    problem = assert_problem(
        await world.client.post(f"/v1/communities/{cid}/posts", json=too_many, headers=alice.headers),
        400,
        "validation_failed",
    )
    assert [error["field"] for error in problem["errors"]] == ["imageIds"]
    # Image URLs are no longer taken, from any host, on a new post or an edit: the field is refused by name.
    before = await db.fetch("SELECT id, text, image_urls FROM posts WHERE community_id = $1 ORDER BY id", int(cid))
    for method, path in (("POST", f"/v1/communities/{cid}/posts"), ("PUT", f"/v1/posts/{page.items[0].id}")):
        for urls in (["https://cdn.example.com/a.jpg"], ["http://cdn.example.com/a.jpg"]):
            refused = await world.client.request(
                method, path, json={"text": "x", "imageUrls": urls}, headers=alice.headers
            )
            [error] = assert_problem(refused, 400, "validation_failed")["errors"]
            assert (error["field"], error["reason"]) == ("imageUrls", "unknown_field")
            assert error["message"] == (
                "is no longer taken: upload the photos (POST /v1/media) and send their ids in `imageIds`"
            )
    assert (
        await db.fetch("SELECT id, text, image_urls FROM posts WHERE community_id = $1 ORDER BY id", int(cid)) == before
    )


async def test_introductions_are_checked_like_posts(world, db, jobs):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)

    async def introduce(member, text: str):
        url = f"/v1/communities/{cid}/introduction"
        return await world.client.post(url, json={"text": text}, headers=member.headers)

    assert_problem(await introduce(bob, "我是 sandbox-risky 的人"), 422, "content_rejected")
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'introduction'") == 0
    assert await db.fetchval("SELECT introduced_at FROM memberships WHERE user_id = $1", bob.id) is None

    held = await introduce(carol, "hello, sandbox-review me")
    assert held.status_code == 201 and held.json()["status"] == "pending"
    assert held.json()["postId"] not in [i["id"] for i in (await world.feed(alice, cid))["items"]]

    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    kept = await introduce(dave, "大家好，我是 dave")
    assert kept.status_code == 201 and kept.json()["status"] == "pending"
    await world.sandbox.control("DELETE", "/sandbox/faults")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1
    assert kept.json()["postId"] in [i["id"] for i in (await world.feed(alice, cid))["items"]]
    # Recorded once, with the introduction: the recheck does not add a `post` activity.
    assert await events(db, "post") == []
    assert await db.fetchval("SELECT count(*) FROM interaction_events WHERE kind = 'introduction'") == 2


async def test_every_member_s_writing_is_rate_limited_before_the_content_check(database_url, sandbox):
    settings = make_settings(
        database_url, wechat_api_base=sandbox.url, newcomer_hours=0, write_rate_posts=2, write_rate_comments=3
    )
    async with api_client(settings) as client:
        from tests.feed.conftest import World

        world = World(client, sandbox)
        alice, bob = await world.member("alice"), await world.member("bob")
        cid = await world.community(alice, bob)
        other = await world.community(alice)
        first = await world.post(alice, cid, "one")  # the owner too: the limit is per member, whatever the role
        await world.post(alice, other, "two")  # and across communities
        checks = (await sandbox.stats())["msg_sec_check"]
        over = await client.post(f"/v1/communities/{cid}/posts", json={"text": "three"}, headers=alice.headers)
        problem = assert_problem(over, 429, "rate_limited")
        assert 0 < int(over.headers["retry-after"]) <= 60 and problem["retryAfter"] == int(over.headers["retry-after"])
        assert (await sandbox.stats())["msg_sec_check"] == checks  # refused before WeChat was asked
        await world.post(bob, cid, "bob is not alice")
        for n in range(3):
            await world.comment(bob, first["id"], f"comment {n}")
        assert (await world.comment(bob, first["id"], "a fourth", status=429))["code"] == "rate_limited"
        await world.comment(alice, first["id"], "alice may still comment")
