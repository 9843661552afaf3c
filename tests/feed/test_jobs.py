"""The feed's jobs: notifications sent as subscribe messages (with and without consent), the weekly essence
digest posted once per community and week, view counters brought up to the view events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.auth.deletion import erase_due
from service.core.messaging import wechat_of
from service.feed.digests import last_week, weekly_digests
from service.feed.jobs import refresh_view_counts, send_notification

TEMPLATE = "sandbox-comment-template"


async def consent(world, name: str, count: int = 1) -> None:
    await world.sandbox.control(
        "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": count}
    )


async def test_notifications_with_and_without_consent(world, db, jobs):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "what do you think?")
    await consent(world, "alice")
    first = await world.comment(bob, post["id"], "great idea")  # alice: a comment on her post
    reply = await world.comment(carol, post["id"], "agreed", parent=first["id"])  # bob: a reply; alice: a comment
    await world.comment(alice, post["id"], "my own words")  # nobody hears of their own comment
    rows = await db.fetch("SELECT id, user_id, kind, status FROM feed_notifications ORDER BY id")
    assert [(r["user_id"], r["kind"], r["status"]) for r in rows] == [
        (alice.id, "comment", "queued"),
        (bob.id, "reply", "queued"),
        (alice.id, "comment", "queued"),
    ]
    queued = await db.fetch("SELECT payload->>'notification_id' AS id FROM jobs WHERE kind = 'feed.notify' ORDER BY id")
    assert [int(j["id"]) for j in queued] == [r["id"] for r in rows]

    wechat = wechat_of(jobs)
    results = [await send_notification(jobs.pool, wechat, jobs.settings, r["id"]) for r in rows]
    assert results == ["sent", "no_consent", "no_consent"]  # alice consented once; bob never
    again = await send_notification(jobs.pool, wechat, jobs.settings, rows[1]["id"])
    assert again == "no_consent"  # recorded, never retried
    assert (await world.sandbox.stats())["subscribe_send"] == 3
    sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": alice.openid})
    message = sent["items"][0]["message"]
    assert message["template_id"] == TEMPLATE and message["data"]["thing2"]["value"] == "bob"
    assert message["data"]["thing3"]["value"] == "great idea" and message["page"].endswith(f"postId={post['id']}")
    statuses = await db.fetch("SELECT status, errcode FROM feed_notifications ORDER BY id")
    assert [tuple(s) for s in statuses] == [("sent", None), ("no_consent", 43101), ("no_consent", 43101)]
    assert reply["replyToId"] == first["id"]

    # A member who muted the community is recorded as muted, and no job is queued for them.
    await world.client.put(
        f"/v1/communities/{cid}/members/me", json={"notificationsMuted": True}, headers=alice.headers
    )
    await world.comment(bob, post["id"], "hello?")
    assert await db.fetchval("SELECT status FROM feed_notifications ORDER BY id DESC LIMIT 1") == "muted"
    assert await db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'feed.notify'") == 3


async def test_no_message_tells_of_a_comment_gone_before_the_job_ran(world, db, jobs):
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "what do you think?")
    await consent(world, "alice", count=3)
    await consent(world, "bob", count=3)
    deleted = await world.comment(bob, post["id"], "加我微信 abc123")  # alice hears of it ...
    thread = await world.comment(bob, post["id"], "still here")
    await world.comment(carol, post["id"], "a reply", parent=thread["id"])  # bob: a reply; alice: a comment
    assert (await world.client.delete(f"/v1/comments/{deleted['id']}", headers=bob.headers)).status_code == 204
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)
    assert left.status_code == 204, left.text

    # ... and the job runs late: after the deletion, and after bob left.
    rows = await db.fetch("SELECT id, user_id, comment_id FROM feed_notifications ORDER BY id")
    wechat = wechat_of(jobs)
    results = [await send_notification(jobs.pool, wechat, jobs.settings, r["id"]) for r in rows]
    assert results == ["withdrawn", "sent", "withdrawn", "sent"]
    assert [r["user_id"] for r in rows] == [alice.id, alice.id, bob.id, alice.id]
    sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": alice.openid})
    assert sorted(m["message"]["data"]["thing3"]["value"] for m in sent["items"]) == ["a reply", "still here"]
    assert (await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid}))[
        "items"
    ] == []
    # Withdrawn is final: asked again, nothing is sent.
    assert await send_notification(jobs.pool, wechat, jobs.settings, rows[0]["id"]) == "withdrawn"
    assert (await world.sandbox.stats())["subscribe_send"] == 2


async def test_no_message_tells_of_a_reply_whose_thread_went_before_the_job_ran(world, db, jobs):
    """A reply is seen only in its thread: the thread deleted (or hidden, removed) before the job ran, the reply's
    message is withdrawn, as one of a deleted comment is."""
    alice, bob, carol = await world.member("alice"), await world.member("bob"), await world.member("carol")
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "what do you think?")
    await consent(world, "bob", count=3)
    thread = await world.comment(bob, post["id"], "my thread")
    await world.comment(carol, post["id"], "加我微信 abc123", parent=thread["id"])  # bob: a reply; alice: a comment
    assert (await world.client.delete(f"/v1/comments/{thread['id']}", headers=bob.headers)).status_code == 204

    row = await db.fetchrow("SELECT id FROM feed_notifications WHERE user_id = $1 AND kind = 'reply'", bob.id)
    assert await send_notification(jobs.pool, wechat_of(jobs), jobs.settings, row["id"]) == "withdrawn"
    assert (await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid}))[
        "items"
    ] == []


async def test_weekly_digest_is_posted_once(world, db, jobs):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    quiet = await world.community(alice, name="Quiet")
    now = datetime.now(UTC)
    start, end = last_week(jobs.settings, now)
    assert end - start == timedelta(days=7) and start.astimezone(start.tzinfo).weekday() == 0
    ids = []
    for n, (likes, comments) in enumerate([(1, 0), (5, 2), (0, 0), (3, 0)]):
        ids.append(
            await db.fetchval(
                "INSERT INTO posts (community_id, author_id, text, created_at, like_count, comment_count) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                int(cid),
                bob.id,
                f"post number {n}",
                start + timedelta(days=1, hours=n),
                likes,
                comments,
            )
        )
    await db.execute(  # last week's but engaging posts outside the week never count
        "INSERT INTO posts (community_id, author_id, text, created_at, like_count) VALUES ($1, $2, 'old', $3, 99)",
        int(cid),
        bob.id,
        start - timedelta(hours=1),
    )
    assert await weekly_digests(jobs.pool, jobs.settings, now) == 1
    assert await weekly_digests(jobs.pool, jobs.settings, now) == 0
    digest = await db.fetchrow("SELECT * FROM feed_digests WHERE community_id = $1", int(cid))
    assert digest["post_ids"] == [ids[1], ids[3], ids[0]]
    robot_post = await db.fetchrow("SELECT * FROM posts WHERE id = $1", digest["post_id"])
    assert robot_post["robot"] == "digest" and robot_post["author_id"] is None and robot_post["kind"] == "digest"
    assert robot_post["text"].splitlines()[1].startswith("1. bob：post number 1")
    assert await db.fetchval("SELECT post_id FROM feed_digests WHERE community_id = $1", int(quiet)) is None
    item = (await world.feed(bob, cid))["items"][0]
    assert item["robot"] == "digest" and item["author"] == {"id": None, "nickname": "精华周报", "avatarUrl": ""}
    assert await db.fetchval("SELECT count(*) FROM interaction_events WHERE post_id = $1", digest["post_id"]) == 0


async def test_view_counters_follow_the_view_events(world, db, jobs):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid, "look at me")
    at = datetime.now(UTC).isoformat()
    events = [
        {"id": f"v{n}", "type": "post_view", "communityId": cid, "postId": post["id"], "at": at} for n in range(3)
    ]
    response = await world.client.post("/v1/events", json={"events": events}, headers=bob.headers)
    assert response.status_code in (200, 201, 207), response.text
    await refresh_view_counts(jobs.pool)
    await refresh_view_counts(jobs.pool)  # idempotent
    assert (await world.feed(alice, cid))["items"][0]["viewCount"] == 3


async def _digest_of(world, db, jobs, author, cid: str, texts: list[str]) -> tuple[list[str], int]:
    """Posts of ``author`` last week (the first the most engaged), and the digest that lists them: their ids and
    the digest post's id."""
    start, _ = last_week(jobs.settings, datetime.now(UTC))
    ids = []
    for n, text in enumerate(texts):
        post = await world.post(author, cid, text)
        await db.execute(
            "UPDATE posts SET created_at = $2, like_count = $3 WHERE id = $1",
            int(post["id"]),
            start + timedelta(days=1, hours=n),
            len(texts) - n,
        )
        ids.append(post["id"])
    assert await weekly_digests(jobs.pool, jobs.settings) == 1
    return ids, await db.fetchval("SELECT post_id FROM feed_digests WHERE community_id = $1", int(cid))


async def test_a_digest_keeps_neither_a_deleted_posts_words_nor_an_erased_members_name(world, db, jobs):
    """Found by review: the digest copied each post's excerpt and its author's nickname into its own text, so a post
    its author deleted stayed quoted there, and an erased member stayed named."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    bobs, digest_id = await _digest_of(world, db, jobs, bob, cid, ["跑步打卡第一天", "我的手机号是多少来着"])
    await _digest_of(world, db, jobs, carol, await world.community(carol, alice, name="Other"), ["另一个社群"])
    text = await db.fetchval("SELECT text FROM posts WHERE id = $1", digest_id)
    heading, first, second = text.splitlines()
    assert second.startswith("2. bob：我的手机号是多少来着")

    assert (await world.client.delete(f"/v1/posts/{bobs[1]}", headers=bob.headers)).status_code == 204
    text = await db.fetchval("SELECT text FROM posts WHERE id = $1", digest_id)
    assert text.splitlines() == [heading, first, "2. 该内容已不可见"]

    assert (await world.client.delete("/v1/me", headers=bob.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", bob.id)
    assert await erase_due(jobs.pool) == 1
    text = await db.fetchval("SELECT text FROM posts WHERE id = $1", digest_id)
    assert text.splitlines() == [
        heading,
        "1. 已注销用户：跑步打卡第一天（赞 2 · 评论 0 · 分享 0）",
        "2. 该内容已不可见",
    ]
    assert "bob" not in text
    # Another community's digest, of another author, is left as it was.
    other = await db.fetchval("SELECT text FROM posts WHERE robot = 'digest' AND community_id <> $1", int(cid))
    assert other.splitlines()[1] == "1. carol：另一个社群（赞 1 · 评论 0 · 分享 0）"


async def test_a_brand_team_member_who_never_joined_gets_the_message_of_a_comment_as_an_admin_does(world, db, jobs):
    """The brand's team stands as admin in the brand's communities, member or not (docs/brands.md): a comment on what
    one of them wrote there is sent to them as to any admin. The message was recorded `muted` (the membership row
    alone was read), and a job running would have withdrawn it."""
    owner, boss, bob = await world.member("owner"), await world.member("boss"), await world.member("bob")
    brand = (await world.client.post("/v1/brands", json={"name": "山野跑团"}, headers=boss.headers)).json()
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{owner.id}", headers=boss.headers)
    cid = await world.community(owner, bob)
    attached = await world.client.post(
        f"/v1/brands/{brand['id']}/communities", json={"communityId": cid}, headers=owner.headers
    )
    assert attached.status_code == 200, attached.text
    post = await world.post(boss, cid, "新品试用名额开放")  # boss never joined
    await consent(world, "boss")
    await world.comment(bob, post["id"], "想要试用")

    row = await db.fetchrow("SELECT id, status FROM feed_notifications WHERE user_id = $1", boss.id)
    assert row["status"] == "queued"
    assert await send_notification(jobs.pool, wechat_of(jobs), jobs.settings, row["id"]) == "sent"
    sent = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": boss.openid})
    assert [m["message"]["data"]["thing3"]["value"] for m in sent["items"]] == ["想要试用"]
