"""Share previews and referral credit over HTTP: a stranger opens a shared post's public preview and joins
through it, the sharer is credited once (and scores in a reward pool's member tier); hidden content answers
404 like nothing; nobody refers themselves, and coming back after leaving credits nobody."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.interactions import logic
from tests.growth.conftest import OPERATOR_KEY, join, referrals, share
from tests.world import assert_problem


async def test_a_stranger_previews_a_shared_post_joins_and_the_sharer_is_credited_once(world, db, settings):
    alice, bob, carol, dan = [await world.member(name) for name in ("alice", "bob", "carol", "dan")]
    cid = await world.community(alice, bob, description="每周六早上一起跑步")
    post = await world.post(alice, cid, "周六早上七点，公园门口集合，" + "跑步" * 100)
    code = await share(world, bob, post["id"])

    for headers in ({}, carol.headers):  # no token, or a stranger's: the same public preview
        opened = await world.client.get(f"/v1/shares/{code}", headers=headers)
        assert opened.status_code == 200, opened.text
        preview = opened.json()
        assert preview["post"]["excerpt"] == post["text"][:140] and preview["post"]["truncated"] is True
        assert preview["post"]["authorNickname"] == "alice" and preview["sharerNickname"] == "bob"
        card = preview["community"]
        assert (card["id"], card["name"], card["memberCount"], card["entryMode"], card["priceFen"]) == (
            cid,
            "Runners",
            2,
            "free",
            None,
        )
        assert preview["join"] == {"outcome": "join", "shareCode": code}
        assert "text" not in preview["post"] and "status" not in preview["post"]

    joined = await join(world, carol, cid, shareCode=code)
    assert joined["outcome"] == "joined"
    board = await referrals(world, bob, cid)
    assert [(e["userId"], e["referrals"], e["rank"]) for e in board["items"]] == [(str(bob.id), 1, 1)]
    assert board["mine"]["referrals"] == 1 and (await referrals(world, alice, cid))["mine"] is None

    # Joining again, or leaving and coming back through the same share, credits nobody a second time.
    assert (await join(world, carol, cid, 200, shareCode=code))["outcome"] == "already_member"
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=carol.headers)
    assert left.status_code == 204, left.text
    assert (await referrals(world, bob, cid))["items"] == []  # a referred member who left counts for nobody
    await join(world, carol, cid, shareCode=code)
    assert (await referrals(world, bob, cid))["items"][0]["referrals"] == 1
    assert await db.fetchval("SELECT count(*) FROM referrals WHERE community_id = $1", int(cid)) == 1

    # The member tier of a reward pool: bob's contribution is his one referral (CONTRIBUTION_REFERRAL = 10).
    await join(world, dan, cid)  # another new member, brought by nobody
    await logic.rollup_incremental(db, settings)
    today = str(datetime.now(ZoneInfo(settings.metrics_timezone)).date())
    body = {"amountFen": 1000, "start": today, "end": today, "communityIds": [cid]}
    drawn = await world.client.post("/v1/admin/reward-pools", json=body, headers={"x-operator-key": OPERATOR_KEY})
    assert drawn.status_code == 201, drawn.text
    members = {m["userId"]: m["contribution"] for m in drawn.json()["communities"][0]["members"]}
    assert members[str(bob.id)] == 10.0 and str(dan.id) not in members and str(carol.id) not in members
    board = await world.client.get(
        f"/v1/communities/{cid}/leaderboard", params={"from": today, "to": today}, headers=alice.headers
    )
    bobs = next(e for e in board.json()["items"] if e["userId"] == str(bob.id))
    assert bobs["details"]["referrals"] == 1


async def test_hidden_pending_removed_and_unknown_posts_answer_404(world, db):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    held = await world.post(bob, cid, "please sandbox-review this")
    assert held["status"] == "pending"
    visible = await world.post(bob, cid, "今天的晨跑很愉快")
    # A member cannot share a post that others do not see.
    refused = await world.client.post(f"/v1/posts/{held['id']}/share", json={"target": "chat"}, headers=bob.headers)
    assert refused.status_code == 404, refused.text
    code = await share(world, alice, visible["id"])
    assert (await world.client.get(f"/v1/shares/{code}")).status_code == 200

    removed = await world.client.delete(f"/v1/posts/{visible['id']}", headers=bob.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(await world.client.get(f"/v1/shares/{code}"), 404, "not_found")
    assert_problem(await world.client.get("/v1/shares/nosuchcode123"), 404, "not_found")
    assert_problem(await world.client.get("/v1/shares/bad!code"), 400, "validation_failed")

    other = await world.post(bob, cid, "再分享一条")
    code = await share(world, alice, other["id"])
    await db.execute("UPDATE posts SET status = 'pending' WHERE id = $1", int(other["id"]))  # hidden by reports
    assert_problem(await world.client.get(f"/v1/shares/{code}"), 404, "not_found")


async def test_nobody_refers_themselves_and_a_foreign_share_credits_nobody(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob)
    other = await world.community(carol)
    post = await world.post(alice, cid, "欢迎新朋友")
    code = await share(world, bob, post["id"])
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)
    assert left.status_code == 204
    await join(world, bob, cid, shareCode=code)  # the sharer joining again through his own link
    assert (await referrals(world, alice, cid))["items"] == []

    foreign = await share(world, carol, (await world.post(carol, other, "另一个社群的帖子"))["id"])
    dan = await world.member("dan")
    await join(world, dan, cid, shareCode=foreign)  # admitted (free entry), credited to nobody
    assert (await referrals(world, alice, cid))["items"] == []
    malformed = await world.client.post(f"/v1/communities/{other}/join", json={"shareCode": "no"}, headers=dan.headers)
    assert_problem(malformed, 400, "validation_failed")


async def test_an_approval_community_credits_the_sharer_when_the_request_is_approved(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, entryMode="approval")
    post = await world.post(alice, cid, "审核制的社群")
    preview = (await world.client.get(f"/v1/shares/{await share(world, alice, post['id'])}")).json()
    assert preview["join"]["outcome"] == "request" and preview["community"]["entryMode"] == "approval"
    pending = await join(world, bob, cid, 202, shareCode=preview["join"]["shareCode"])
    assert pending["outcome"] == "pending"
    assert (await referrals(world, alice, cid))["items"] == []  # not admitted yet: nothing credited
    approve = f"/v1/communities/{cid}/join-requests/{pending['request']['id']}/approve"
    approved = await world.client.post(approve, headers=alice.headers)
    assert approved.status_code == 200, approved.text
    board = await referrals(world, alice, cid)  # the approval admitted bob: the sharer is credited
    assert [(e["userId"], e["referrals"]) for e in board["items"]] == [(str(alice.id), 1)]


async def test_a_share_of_a_member_removed_or_gone_credits_nobody(world):
    # A member who leaves or is removed takes their invite links with them (docs/growth.md); their shares too:
    # nobody joining through one while they are out is credited to them, even once they are let back in.
    alice, bob, carol, dan = [await world.member(name) for name in ("alice", "bob", "carol", "dan")]
    cid = await world.community(alice, bob, dan)
    post = await world.post(alice, cid, "欢迎新朋友")
    bobs, dans = await share(world, bob, post["id"]), await share(world, dan, post["id"])
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    assert removed.status_code == 204, removed.text
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=dan.headers)
    assert left.status_code == 204, left.text
    await join(world, carol, cid, shareCode=bobs)  # admitted (free entry), credited to nobody
    erin = await world.member("erin")
    await join(world, erin, cid, shareCode=dans)

    asked = await join(world, bob, cid, 202, message="让我回来吧")  # a removed member asks to come back
    approve = f"/v1/communities/{cid}/join-requests/{asked['request']['id']}/approve"
    assert (await world.client.post(approve, headers=alice.headers)).status_code == 200
    await join(world, dan, cid)
    assert (await referrals(world, alice, cid))["items"] == []
