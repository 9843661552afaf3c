"""Decisions: WeChat's `review` released by an admin, removal told to the author and the reporters, one decision
when two admins decide at once, sanctions from the case, nobody else's queue, and no edit undoing a decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from service.auth.deletion import erase_due
from service.core.domain import job_registry
from service.core.messaging import wechat_of
from service.domains import DOMAINS
from service.feed.digests import last_week, weekly_digests
from service.feed.jobs import recheck_pending
from service.interactions.jobs import rollup
from service.interactions.logic import rebuild
from service.jobs.worker import Worker
from service.moderation.jobs import notify
from service.moderation.logic import NOTIFY_KIND as KIND
from tests.moderation.conftest import TEMPLATE, decide, queue, report
from tests.world import assert_problem


async def test_an_admin_releases_a_post_wechat_held_for_review(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    held = await world.post(bob, cid, "please sandbox-review this")
    assert held["status"] == "pending"
    assert held["id"] not in [item["id"] for item in (await world.feed(carol, cid))["items"]]

    [case] = (await queue(world, alice, cid))["items"]
    assert case["review"] is True and case["reporters"] == 0 and case["targetId"] == held["id"]
    assert (await queue(world, alice, cid))["items"][0]["id"] == case["id"]  # read again: the same one case

    decided = await decide(world, alice, case["id"], action="approve")
    assert decided["status"] == "approved" and decided["decidedAt"] is not None
    shown = [item for item in (await world.feed(carol, cid))["items"] if item["id"] == held["id"]]
    assert [item["status"] for item in shown] == ["visible"]
    assert (await queue(world, alice, cid))["items"] == []
    assert [c["id"] for c in (await queue(world, alice, cid, status="decided"))["items"]] == [case["id"]]
    counted = await db.fetchval(
        "SELECT count(*) FROM interaction_events WHERE kind = 'post' AND post_id = $1", int(held["id"])
    )
    assert counted == 1  # released, it counts as any post that appeared


async def test_a_removal_tells_the_author_and_the_reporters(world, jobs):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "加我微信领优惠券")
    comment = await world.comment(bob, post["id"], "私聊我")
    mine = await report(world, carol, "post", post["id"])
    await report(world, carol, "comment", comment["id"], reason="abuse")
    for name in ("bob", "carol"):
        await world.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": 5}
        )

    [comment_case, post_case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, post_case["id"], action="remove", reason="广告内容")
    await decide(world, alice, comment_case["id"], action="approve")
    for reader in (bob, carol):  # removed for good, for its author too
        assert post["id"] not in [item["id"] for item in (await world.feed(reader, cid))["items"]]

    removals = (await world.client.get("/v1/me/removals", headers=bob.headers)).json()["items"]
    assert [(r["targetId"], r["reason"], r["text"]) for r in removals] == [(post["id"], "广告内容", "加我微信领优惠券")]
    outcomes = (await world.client.get("/v1/me/reports", headers=carol.headers)).json()["items"]
    assert {r["targetKind"]: r["outcome"] for r in outcomes} == {"post": "upheld", "comment": "dismissed"}
    assert mine["id"] in [r["id"] for r in outcomes]

    inbox = (await world.client.get("/v1/me/notifications", headers=bob.headers)).json()["items"]
    removed = [(i["subjectType"], i["subjectId"], i["data"]["reason"]) for i in inbox if i["kind"] == "content_removed"]
    assert removed == [("post", post["id"], "广告内容")]
    inbox = (await world.client.get("/v1/me/notifications", headers=carol.headers)).json()["items"]
    decided = sorted((i["data"]["targetKind"], i["data"]["outcome"]) for i in inbox if i["kind"] == "report_decided")
    assert decided == [("comment", "dismissed"), ("post", "upheld")]

    for case in (post_case, comment_case):
        await notify(jobs, {"case_id": case["id"]})
        await notify(jobs, {"case_id": case["id"]})  # a retried job sends nothing twice
    to_bob = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid})
    assert [m["message"]["data"]["thing2"]["value"] for m in to_bob["items"]] == ["广告内容"]
    to_carol = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": carol.openid})
    results = sorted(m["message"]["data"]["thing2"]["value"] for m in to_carol["items"])
    assert results == ["已处理违规内容", "经核实未发现违规"]
    assert all(m["message"]["template_id"] == TEMPLATE for m in to_bob["items"] + to_carol["items"])


async def test_an_outcome_wechat_could_not_take_is_sent_when_it_is_back_once_each(world, jobs):
    # Found in review: the job claimed the case's notice, then sent, and "WeChat unavailable" was swallowed, so a
    # decision made while WeChat was down was never sent to anyone. Now the job is retried with backoff until WeChat
    # takes each message (as the feed's notifications are); each goes out at most once, 43101 is an answer.
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "加我微信领优惠券")
    for reporter in (carol, dave):
        await report(world, reporter, "post", post["id"])
    for name in ("bob", "carol"):  # dave never consented: 43101, a result, not retried
        await world.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": 5}
        )
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告内容")

    async def sent_to(member) -> list[str]:
        got = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": member.openid})
        return [m["message"]["data"]["thing2"]["value"] for m in got["items"]]

    worker = Worker(jobs, job_registry(DOMAINS), poll_interval=0.01)
    await world.sandbox.fault("http500", path_prefix="/cgi-bin/message/subscribe/send")
    assert await worker.run_once() == 1
    job = await jobs.pool.fetchrow("SELECT status, run_at > now() AS later, last_error FROM jobs WHERE kind = $1", KIND)
    assert (job["status"], job["later"]) == ("queued", True), dict(job)  # retried after a backoff
    assert "WeChat" in job["last_error"]
    assert [await sent_to(m) for m in (bob, carol, dave)] == [[], [], []]

    await world.sandbox.control("DELETE", "/sandbox/faults")
    await jobs.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = $1", KIND)
    assert await worker.run_once() == 1
    assert await jobs.pool.fetchval("SELECT status FROM jobs WHERE kind = $1", KIND) == "done"
    # Run again, twice at once (a lease lapsed, two workers): nothing goes out twice.
    await asyncio.gather(notify(jobs, {"case_id": case["id"]}), notify(jobs, {"case_id": case["id"]}))
    assert await sent_to(bob) == ["广告内容"]
    assert await sent_to(carol) == ["已处理违规内容"]
    assert await sent_to(dave) == []


async def test_two_workers_telling_one_outcome_send_each_message_once(world, jobs):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "加我微信领优惠券")
    await report(world, carol, "post", post["id"])
    for name in ("bob", "carol"):
        await world.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": 5}
        )
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告内容")
    await asyncio.gather(*(notify(jobs, {"case_id": case["id"]}) for _ in range(3)))
    assert (await world.sandbox.stats())["subscribe_send"] == 2


async def test_a_removal_tells_nothing_to_an_author_who_had_deleted_the_content(world, jobs):
    """Reported, then deleted by its author before an admin removes it: the reporter hears the case is closed,
    the author is not told of something they took down themselves."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "加我微信领优惠券")
    comment = await world.comment(bob, post["id"], "私聊我")
    await report(world, carol, "post", post["id"])
    await report(world, carol, "comment", comment["id"])
    for name in ("bob", "carol"):
        await world.sandbox.control(
            "POST", "/sandbox/subscribe-consent", json={"user": name, "templateId": TEMPLATE, "count": 5}
        )
    assert (await world.client.delete(f"/v1/comments/{comment['id']}", headers=bob.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/posts/{post['id']}", headers=bob.headers)).status_code == 204

    for case in (await queue(world, alice, cid))["items"]:
        assert (await decide(world, alice, case["id"], action="remove", reason="广告"))["status"] == "removed"
    for queued in await jobs.pool.fetch("SELECT payload FROM jobs WHERE kind = 'moderation.notify'"):
        await notify(jobs, queued["payload"])  # as the decisions queued them

    inbox = (await world.client.get("/v1/me/notifications", headers=bob.headers)).json()["items"]
    assert [i for i in inbox if i["kind"] == "content_removed"] == []
    to_bob = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": bob.openid})
    assert to_bob["items"] == []
    inbox = (await world.client.get("/v1/me/notifications", headers=carol.headers)).json()["items"]
    assert sorted(i["data"]["targetKind"] for i in inbox if i["kind"] == "report_decided") == ["comment", "post"]
    to_carol = await world.sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": carol.openid})
    assert [m["message"]["data"]["thing2"]["value"] for m in to_carol["items"]] == ["已处理违规内容"] * 2


async def test_my_removals_leave_out_what_i_had_deleted_before_the_removal(world):
    """Content its author deleted before a moderator removed it was not removed from them (they are not told
    either): not in their list. Deleted after the removal, it was: still listed with the reason."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    gone = await world.post(bob, cid, "加我微信领优惠券")
    comment = await world.comment(bob, gone["id"], "私聊我领取")
    later = await world.post(bob, cid, "扫码进群领红包")
    for kind, target in (("post", gone), ("comment", comment), ("post", later)):
        await report(world, carol, kind, target["id"])
    assert (await world.client.delete(f"/v1/comments/{comment['id']}", headers=bob.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/posts/{gone['id']}", headers=bob.headers)).status_code == 204

    for case in (await queue(world, alice, cid))["items"]:
        assert (await decide(world, alice, case["id"], action="remove", reason="广告"))["status"] == "removed"
    assert (await world.client.delete(f"/v1/posts/{later['id']}", headers=bob.headers)).status_code == 204

    removals = (await world.client.get("/v1/me/removals", headers=bob.headers)).json()["items"]
    assert [(r["targetKind"], r["targetId"], r["reason"]) for r in removals] == [("post", later["id"], "广告")]
    outcomes = (await world.client.get("/v1/me/reports", headers=carol.headers)).json()["items"]
    assert [r["outcome"] for r in outcomes] == ["upheld"] * 3  # the reporter's side is unchanged


async def test_two_admins_deciding_at_once_leave_one_audited_decision(world, db):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    promoted = await world.client.put(
        f"/v1/communities/{cid}/members/{dave.id}", json={"role": "admin"}, headers=alice.headers
    )
    assert promoted.status_code == 200, promoted.text
    post = await world.post(bob, cid)
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]

    answers = await asyncio.gather(
        world.client.post(
            f"/v1/moderation/cases/{case['id']}/decision", json={"action": "approve"}, headers=alice.headers
        ),
        world.client.post(
            f"/v1/moderation/cases/{case['id']}/decision", json={"action": "remove"}, headers=dave.headers
        ),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["case_decided"]
    winner = next(a.json() for a in answers if a.status_code == 200)
    same = await decide(world, alice, case["id"], action="approve" if winner["status"] == "approved" else "remove")
    assert same["status"] == winner["status"] and same["decidedAt"] == winner["decidedAt"]
    actions = await db.fetch("SELECT actor_id, action FROM moderation_actions WHERE case_id = $1", int(case["id"]))
    assert len(actions) == 1 and actions[0]["actor_id"] in (alice.id, dave.id)


async def test_a_decision_can_mute_the_author_and_the_history_shows_it(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    first = await world.post(bob, cid, "第一条广告")
    await report(world, carol, "post", first["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告", muteAuthorMinutes=60)
    refused = await world.client.post(f"/v1/communities/{cid}/posts", json={"text": "再发"}, headers=bob.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "member_muted"

    await report(world, carol, "member", str(bob.id), communityId=cid, reason="spam")
    [member_case] = (await queue(world, alice, cid))["items"]
    assert member_case["targetKind"] == "member" and member_case["text"] == "bob"
    assert member_case["history"]["removals"] == 1 and member_case["history"]["mutes"] == 1
    assert member_case["history"]["mutedUntil"] is not None
    await decide(world, alice, member_case["id"], action="remove", removeAuthor=True, reason="屡次发广告")
    members = await world.client.get(f"/v1/communities/{cid}/members", headers=alice.headers)
    assert str(bob.id) not in [m["userId"] for m in members.json()["items"]]


async def test_a_sanction_on_an_author_who_left_says_so_and_the_content_is_still_decided(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "走之前发的广告")
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)
    assert left.status_code == 204, left.text
    for sanction in ({"muteAuthorMinutes": 60}, {"removeAuthor": True}):
        refused = await world.client.post(
            f"/v1/moderation/cases/{case['id']}/decision", json={"action": "remove", **sanction}, headers=alice.headers
        )
        assert_problem(refused, 409, "author_not_member")
        assert "作者已不在本社群" in refused.json()["userMessage"]
    assert (await queue(world, alice, cid))["items"][0]["status"] == "open"  # nothing of the decision was kept
    decided = await decide(world, alice, case["id"], action="remove", reason="广告")
    assert decided["status"] == "removed"


async def test_a_decision_tells_nothing_to_an_erased_reporter_or_author(world, db, database_url):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "广告")
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    for gone in (bob, carol):
        assert (await world.client.delete("/v1/me", headers=gone.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now()")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        assert await erase_due(pool) == 2
    finally:
        await pool.close()
    assert (await decide(world, alice, case["id"], action="remove", reason="广告"))["status"] == "removed"
    told = "SELECT count(*) FROM inbox_items WHERE user_id = ANY($1::bigint[])"
    assert await db.fetchval(told, [bob.id, carol.id]) == 0


async def test_nobody_else_sees_or_decides_a_communitys_queue(world):
    alice, bob, carol, erin = [await world.member(name) for name in ("alice", "bob", "carol", "erin")]
    cid = await world.community(alice, bob, carol)
    await world.community(erin)  # erin administers another community
    post = await world.post(bob, cid)
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]

    assert (await queue(world, erin, cid, expect=403))["code"] == "not_member"
    assert (await queue(world, carol, cid, expect=403))["code"] == "forbidden"
    for who in (erin, carol, bob):
        read = await world.client.get(f"/v1/moderation/cases/{case['id']}", headers=who.headers)
        assert read.status_code == 404
        assert (await decide(world, who, case["id"], expect=404, action="remove"))["code"] == "not_found"
    assert (await queue(world, alice, cid))["items"][0]["status"] == "open"


async def _edit(world, who, post_id: str, text: str):
    return await world.client.put(f"/v1/posts/{post_id}", json={"text": text}, headers=who.headers)


async def _shown_to(world, who, cid: str) -> list[str]:
    return [item["id"] for item in (await world.feed(who, cid))["items"]]


async def test_an_edit_does_not_bring_back_a_removed_post(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(bob, cid, "加我微信领优惠券")
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告内容")

    # Within the edit window, a text WeChat passes: the post stays removed, for its author too.
    assert_problem(await _edit(world, bob, post["id"], "加我微信领优惠券!"), 409, "post_not_editable")
    assert await db.fetchval("SELECT status FROM posts WHERE id = $1", int(post["id"])) == "rejected"
    assert post["id"] not in await _shown_to(world, carol, cid)


async def test_an_edit_does_not_show_a_post_reports_hid_until_an_admin_decides(world, db):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "spam spam")
    await report(world, carol, "post", post["id"])
    await report(world, dave, "post", post["id"])  # the threshold (2): hidden
    assert post["id"] not in await _shown_to(world, carol, cid)

    assert_problem(await _edit(world, bob, post["id"], "spam spam!"), 409, "post_not_editable")
    assert post["id"] not in await _shown_to(world, carol, cid)
    assert await db.fetchval("SELECT text FROM posts WHERE id = $1", int(post["id"])) == "spam spam"

    # An admin keeps it: shown again, and its author may edit it (within the window) as any post.
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="approve")
    assert post["id"] in await _shown_to(world, carol, cid)
    edited = await _edit(world, bob, post["id"], "not spam after all")
    assert edited.status_code == 200 and edited.json()["status"] == "visible", edited.text


async def test_an_edit_does_not_release_what_wechat_held_for_an_admin(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    held = await world.post(bob, cid, "please sandbox-review this")
    assert held["status"] == "pending"

    assert_problem(await _edit(world, bob, held["id"], "a text WeChat passes"), 409, "post_not_editable")
    assert held["id"] not in await _shown_to(world, carol, cid)
    [case] = (await queue(world, alice, cid))["items"]
    assert case["targetId"] == held["id"] and case["review"] is True


async def test_dismissing_the_reports_does_not_show_what_wechat_refused_since(world, jobs):
    """Reported while clean, then edited while WeChat was down: its recheck refuses the new text. An admin who
    dismisses the report keeps it refused: approving a report overturns no refusal."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "周末一起跑步")
    await report(world, carol, "post", post["id"])  # one reporter: still shown
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    edited = await _edit(world, bob, post["id"], "加我 sandbox-risky")
    assert edited.status_code == 200 and edited.json()["status"] == "pending", edited.text
    await world.sandbox.control("DELETE", "/sandbox/faults")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1

    [case] = (await queue(world, alice, cid))["items"]
    assert (await decide(world, alice, case["id"], action="approve"))["status"] == "approved"
    assert post["id"] not in await _shown_to(world, dave, cid)
    mine = await world.client.get(f"/v1/posts/{post['id']}", headers=bob.headers)
    assert mine.json()["status"] == "rejected", mine.text


async def test_a_removed_comment_leaves_the_counts_once(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周末去哪")
    thread = await world.comment(carol, post["id"], "公园")
    reply = await world.comment(bob, post["id"], "私聊我", parent=thread["id"])
    await report(world, carol, "comment", reply["id"], reason="abuse")
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告")

    async def counts() -> tuple[int, int]:
        item = next(i for i in (await world.feed(alice, cid))["items"] if i["id"] == post["id"])
        return item["commentCount"], item["firstComments"][0]["replyCount"]

    assert [c["text"] for c in (await world.comments(alice, post["id"]))["items"]] == ["公园"]
    assert await counts() == (1, 0)
    # Its author deletes it afterwards: not taken off a second time.
    assert (await world.client.delete(f"/v1/comments/{reply['id']}", headers=bob.headers)).status_code == 204
    assert await counts() == (1, 0)
    assert await db.fetchval("SELECT comment_count FROM posts WHERE id = $1", int(post["id"])) == 1


async def test_a_removed_thread_takes_its_replies_out_of_the_count(world, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周末去哪")
    thread = await world.comment(bob, post["id"], "加我微信领优惠券")
    reply = await world.comment(carol, post["id"], "怎么加", parent=thread["id"])
    await world.comment(carol, post["id"], "公园")
    await report(world, carol, "comment", thread["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告")

    assert [c["text"] for c in (await world.comments(alice, post["id"]))["items"]] == ["公园"]
    item = next(i for i in (await world.feed(alice, cid))["items"] if i["id"] == post["id"])
    assert item["commentCount"] == 1
    # The reply's author deletes it afterwards: it left the count with its thread already.
    assert (await world.client.delete(f"/v1/comments/{reply['id']}", headers=carol.headers)).status_code == 204
    assert await db.fetchval("SELECT comment_count FROM posts WHERE id = $1", int(post["id"])) == 1


async def test_comments_and_likes_on_removed_or_refused_posts_earn_their_author_nothing(world, db, jobs, settings):
    """Contribution (docs/metrics.md) counts what others gave the author's posts that stand: a post an admin removed,
    or WeChat refused after an edit, takes its comments and likes received out of the days already rolled up."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    kept, removed, refused = [
        await world.post(bob, cid, text) for text in ("周末一起去爬山吧", "加我微信领优惠券", "周六早上跑步吗")
    ]
    for post in (kept, removed, refused):
        await world.comment(carol, post["id"], "好啊好啊，算我一个")
        assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=carol.headers)).status_code == 200
    today = datetime.now(ZoneInfo(settings.metrics_timezone)).date().isoformat()

    async def bobs() -> dict:
        await rollup(jobs, {})
        params = {"from": today, "to": today}
        board = await world.client.get(f"/v1/communities/{cid}/leaderboard", params=params, headers=alice.headers)
        assert board.status_code == 200, board.text
        return next(item["details"] for item in board.json()["items"] if item["userId"] == str(bob.id))

    before = await bobs()
    assert (before["validPosts"], before["commentsReceived"], before["likesReceived"]) == (3, 3, 3)
    # Recorded long before the removal: past the roll-up's overlap, which would read them again anyway.
    await db.execute("UPDATE interaction_events SET recorded_at = recorded_at - interval '10 minutes'")

    await report(world, carol, "post", removed["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove", reason="广告")
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    assert (await _edit(world, bob, refused["id"], "加我 sandbox-risky")).json()["status"] == "pending"
    await world.sandbox.control("DELETE", "/sandbox/faults")
    assert await recheck_pending(jobs.pool, wechat_of(jobs)) == 1

    after = await bobs()
    assert (after["validPosts"], after["commentsReceived"], after["likesReceived"]) == (1, 1, 1)


async def test_a_removed_comment_earns_the_post_author_nothing(world, db, jobs, settings):
    """Comments received (docs/metrics.md) count those that stand: a comment or reply an admin removed is taken out
    of the day already rolled up, and a rebuild agrees. One its writer deleted still counts, as a deleted post's
    comments do (deleting is not a verdict)."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "周末一起去爬山吧")
    kept = await world.comment(carol, post["id"], "好啊好啊，算我一个")
    removed = await world.comment(carol, post["id"], "加我微信领优惠券")
    reply = await world.comment(dave, post["id"], "私聊我领红包", parent=kept["id"])
    deleted = await world.comment(dave, post["id"], "我也去，几点出发？")
    today = datetime.now(ZoneInfo(settings.metrics_timezone)).date().isoformat()

    async def bobs() -> dict:
        params = {"from": today, "to": today}
        board = await world.client.get(f"/v1/communities/{cid}/leaderboard", params=params, headers=alice.headers)
        assert board.status_code == 200, board.text
        return next(item["details"] for item in board.json()["items"] if item["userId"] == str(bob.id))

    await rollup(jobs, {})
    assert (await bobs())["commentsReceived"] == 4
    # Recorded long before the removal: past the roll-up's overlap, which would read them again anyway.
    await db.execute("UPDATE interaction_events SET recorded_at = recorded_at - interval '10 minutes'")

    assert (await world.client.delete(f"/v1/comments/{deleted['id']}", headers=dave.headers)).status_code == 204
    for comment in (removed, reply):
        await report(world, bob, "comment", comment["id"])
    for case in (await queue(world, alice, cid))["items"]:
        await decide(world, alice, case["id"], action="remove", reason="广告")
    await rollup(jobs, {})
    assert (await bobs())["commentsReceived"] == 2  # the kept one and the deleted one

    async with jobs.pool.acquire() as conn:
        await rebuild(conn, settings)
    assert (await bobs())["commentsReceived"] == 2


async def test_a_digest_quotes_a_post_only_while_it_is_shown(world, db, jobs):
    """A post the weekly digest lists, hidden by reports: its line no longer quotes it; an admin who keeps it shows
    it there again; one who removes it leaves the line gone (docs/feed.md)."""
    alice, bob, carol, dave, erin, fay = [
        await world.member(n) for n in ("alice", "bob", "carol", "dave", "erin", "fay")
    ]
    cid = await world.community(alice, bob, carol, dave, erin, fay)
    post = await world.post(bob, cid, "周末一起爬山吧")
    start, _ = last_week(jobs.settings, datetime.now(UTC))
    await db.execute("UPDATE posts SET created_at = $2, like_count = 1 WHERE id = $1", int(post["id"]), start)
    assert await weekly_digests(jobs.pool, jobs.settings) == 1
    digest_id = await db.fetchval("SELECT post_id FROM feed_digests WHERE community_id = $1", int(cid))

    async def line() -> str:
        return (await db.fetchval("SELECT text FROM posts WHERE id = $1", digest_id)).splitlines()[1]

    shown = await line()
    assert shown == "1. bob：周末一起爬山吧（赞 1 · 评论 0 · 分享 0）"
    await report(world, carol, "post", post["id"])
    await report(world, dave, "post", post["id"])  # the threshold (2): hidden
    assert await line() == "1. 该内容已不可见"
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="approve")
    assert await line() == shown

    await report(world, erin, "post", post["id"])
    await report(world, fay, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    await decide(world, alice, case["id"], action="remove")
    assert await line() == "1. 该内容已不可见"
