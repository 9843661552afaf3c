"""Reports: once per reporter and target, the threshold hides content for everyone but its author (admins find it
in their queue), what non-members and authors may not report, and where reports against the staff go."""

from __future__ import annotations

import asyncio

from tests.brands.test_brands import brand_community_with_its_team
from tests.moderation.conftest import OPERATOR, queue, report
from tests.world import assert_problem


async def test_the_threshold_hides_a_post_for_all_but_its_author_and_the_admins_queue(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "加我微信领优惠券")

    first = await report(world, carol, "post", post["id"], note="连续发广告")
    assert first["outcome"] == "pending" and first["communityId"] == cid and first["decidedAt"] is None
    assert post["id"] in [item["id"] for item in (await world.feed(dave, cid))["items"]]  # one reporter: still shown

    again = await world.client.post(
        "/v1/reports", json={"targetKind": "post", "targetId": post["id"], "reason": "abuse"}, headers=carol.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "already_reported"

    await report(world, dave, "post", post["id"], reason="fraud")
    for reader in (carol, dave, alice):
        assert post["id"] not in [item["id"] for item in (await world.feed(reader, cid))["items"]]
    mine = (await world.feed(bob, cid))["items"]
    assert [(item["id"], item["status"]) for item in mine if item["id"] == post["id"]] == [(post["id"], "pending")]

    [case] = (await queue(world, alice, cid))["items"]
    assert case["targetKind"] == "post" and case["targetId"] == post["id"] and case["hidden"] is True
    assert case["reporters"] == 2 and case["text"] == "加我微信领优惠券" and case["author"]["id"] == str(bob.id)
    assert sorted((r["reason"], r["count"]) for r in case["reasons"]) == [("fraud", 1), ("spam", 1)]
    assert case["notes"] == ["连续发广告"] and case["history"]["role"] == "member"
    assert case["history"]["removals"] == 0 and case["queue"] == "community"


async def test_a_report_sent_as_others_reports_hid_the_post_still_joins_its_case(world):
    """Reporters race: the post is hidden (threshold 2) before a third, who saw it, is heard. That report counts;
    a post WeChat's check holds for review, which no member ever saw, stays unreportable."""
    alice, bob, carol, dave, erin = [await world.member(name) for name in ("alice", "bob", "carol", "dave", "erin")]
    cid = await world.community(alice, bob, carol, dave, erin)
    post = await world.post(bob, cid)
    await report(world, carol, "post", post["id"])
    await report(world, dave, "post", post["id"])
    assert post["id"] not in [item["id"] for item in (await world.feed(erin, cid))["items"]]

    late = await report(world, erin, "post", post["id"], reason="fraud")
    assert late["outcome"] == "pending"
    [case] = (await queue(world, alice, cid))["items"]
    assert case["reporters"] == 3 and case["hidden"] is True

    held = await world.post(bob, cid, "please sandbox-review this")
    unseen = await world.client.post(
        "/v1/reports", json={"targetKind": "post", "targetId": held["id"], "reason": "spam"}, headers=erin.headers
    )
    assert unseen.status_code == 404 and unseen.json()["code"] == "not_found"


async def test_what_cannot_be_reported(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob)
    post = await world.post(bob, cid)

    own = await world.client.post(
        "/v1/reports", json={"targetKind": "post", "targetId": post["id"], "reason": "spam"}, headers=bob.headers
    )
    assert own.status_code == 422 and own.json()["code"] == "cannot_report_yourself"
    stranger = await world.client.post(
        "/v1/reports", json={"targetKind": "post", "targetId": post["id"], "reason": "spam"}, headers=carol.headers
    )
    assert stranger.status_code == 404  # a post of a community I am not in does not exist for me
    missing = await world.client.post(
        "/v1/reports", json={"targetKind": "comment", "targetId": "99999", "reason": "spam"}, headers=alice.headers
    )
    assert missing.status_code == 404
    other = await world.client.post(
        "/v1/reports", json={"targetKind": "post", "targetId": post["id"], "reason": "other"}, headers=alice.headers
    )
    assert other.status_code == 400 and other.json()["errors"][0]["field"] == "note"
    member = await world.client.post(
        "/v1/reports", json={"targetKind": "member", "targetId": str(bob.id), "reason": "abuse"}, headers=alice.headers
    )
    assert member.status_code == 400 and member.json()["errors"][0]["field"] == "communityId"
    assert (await world.client.get("/v1/me/reports", headers=alice.headers)).json()["items"] == []


async def test_a_comment_is_reported_only_while_its_post_and_thread_are_seen(world):
    """Comments of a deleted post, and replies in a deleted thread, are shown to nobody: not reportable (404)."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid)
    thread = await world.comment(bob, post["id"], "第一")
    reply = await world.comment(bob, post["id"], "第二", parent=thread["id"])
    other = await world.post(alice, cid)
    under_other = await world.comment(bob, other["id"], "第三")

    assert (await world.client.delete(f"/v1/comments/{thread['id']}", headers=bob.headers)).status_code == 204
    assert (await world.client.delete(f"/v1/posts/{other['id']}", headers=alice.headers)).status_code == 204
    for gone in (reply, under_other):
        answer = await world.client.post(
            "/v1/reports",
            json={"targetKind": "comment", "targetId": gone["id"], "reason": "spam"},
            headers=carol.headers,
        )
        assert_problem(answer, 404, "not_found")
    shown = await world.comment(bob, post["id"], "还在")
    assert (await report(world, carol, "comment", shown["id"]))["outcome"] == "pending"


async def test_a_member_is_reported_once_in_each_community(world):
    """A member misbehaving in two communities is two cases for two sets of admins; the same community twice is
    `already_reported`."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    one = await world.community(alice, bob, carol)
    two = await world.community(dave, bob, carol)
    first = await report(world, carol, "member", str(bob.id), communityId=one, reason="abuse")
    second = await report(world, carol, "member", str(bob.id), communityId=two, reason="abuse")
    assert (first["communityId"], second["communityId"]) == (one, two)
    again = await world.client.post(
        "/v1/reports",
        json={"targetKind": "member", "targetId": str(bob.id), "communityId": two, "reason": "spam"},
        headers=carol.headers,
    )
    assert_problem(again, 409, "already_reported")
    for admin, cid in ((alice, one), (dave, two)):
        [case] = (await queue(world, admin, cid))["items"]
        assert (case["targetKind"], case["targetId"], case["communityId"]) == ("member", str(bob.id), cid)


async def test_concurrent_reports_count_each_reporter_once(world):
    members = [await world.member(f"m{n}") for n in range(6)]
    owner, author, *reporters = members
    cid = await world.community(owner, author, *reporters)
    post = await world.post(author, cid)
    body = {"targetKind": "post", "targetId": post["id"], "reason": "spam"}
    answers = await asyncio.gather(
        *(world.client.post("/v1/reports", json=body, headers=who.headers) for who in reporters for _ in range(2))
    )
    statuses = [answer.status_code for answer in answers]
    assert all(sorted(statuses[n : n + 2]) == [201, 409] for n in range(0, len(statuses), 2)), [
        (a.status_code, a.text) for a in answers
    ]  # one each
    [case] = (await queue(world, owner, cid))["items"]
    assert case["reporters"] == len(reporters) and case["hidden"] is True


async def test_reports_against_the_staff_and_communities_go_to_the_operator(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    owners_post = await world.post(alice, cid, "店主的帖子")
    await report(world, bob, "post", owners_post["id"])
    await report(world, bob, "community", cid, reason="fraud")
    await report(world, carol, "member", str(alice.id), communityId=cid, reason="abuse")

    assert (await queue(world, alice, cid))["items"] == []  # the staff do not judge themselves
    operator = await world.client.get("/v1/admin/moderation", headers=OPERATOR)
    assert operator.status_code == 200
    kinds = sorted(case["targetKind"] for case in operator.json()["items"])
    assert kinds == ["community", "member", "post"]
    assert (await world.client.get("/v1/admin/moderation")).json()["code"] == "operator_only"

    [community_case] = [case for case in operator.json()["items"] if case["targetKind"] == "community"]
    delisted = await world.client.post(
        f"/v1/admin/moderation/{community_case['id']}/decision",
        json={"action": "remove", "reason": "虚假宣传"},
        headers=OPERATOR,
    )
    assert delisted.status_code == 200 and delisted.json()["status"] == "removed"
    community = await world.client.get(f"/v1/communities/{cid}", headers=alice.headers)
    assert community.json()["visibility"] == "unlisted"

    [post_case] = [case for case in operator.json()["items"] if case["targetKind"] == "post"]
    muting = await world.client.post(
        f"/v1/admin/moderation/{post_case['id']}/decision",
        json={"action": "remove", "muteAuthorMinutes": 60},
        headers=OPERATOR,
    )
    assert muting.status_code == 400  # the operator decides content; admins mute members
    community_case_by_admin = await world.client.post(
        f"/v1/moderation/cases/{post_case['id']}/decision", json={"action": "approve"}, headers=alice.headers
    )
    assert community_case_by_admin.status_code == 404


async def test_a_member_promoted_after_being_reported_is_judged_by_the_operator(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(bob, cid, "加我微信领优惠券")
    await report(world, carol, "post", post["id"])
    [case] = (await queue(world, alice, cid))["items"]
    assert case["queue"] == "community"
    for admin in (bob, dave):
        promoted = await world.client.put(
            f"/v1/communities/{cid}/members/{admin.id}", json={"role": "admin"}, headers=alice.headers
        )
        assert promoted.status_code == 200, promoted.text

    # Bob is staff now: neither he nor the other staff decide the case against him, nor see it in their queue.
    for staff in (bob, dave, alice):
        decided = await world.client.post(
            f"/v1/moderation/cases/{case['id']}/decision", json={"action": "approve"}, headers=staff.headers
        )
        assert_problem(decided, 404, "not_found")
        assert (await queue(world, staff, cid))["items"] == []
    operator = (await world.client.get("/v1/admin/moderation", headers=OPERATOR)).json()["items"]
    assert [(c["id"], c["queue"]) for c in operator] == [(case["id"], "operator")]
    removed = await world.client.post(
        f"/v1/admin/moderation/{case['id']}/decision", json={"action": "remove", "reason": "广告"}, headers=OPERATOR
    )
    assert removed.status_code == 200 and removed.json()["status"] == "removed", removed.text


async def test_a_report_sent_as_a_removal_is_decided_opens_no_case_on_the_removed_post(world):
    """A report and an admin's removal of the same post in flight together: the report either joins the case the
    removal decides (upheld) or, heard after it, finds the post gone (404); never a new open case on removed content."""
    alice, bob, carol, *others = [await world.member(name) for name in ("alice", "bob", "carol", "d1", "d2", "d3")]
    cid = await world.community(alice, bob, carol, *others)
    for n in range(12):
        post = await world.post(bob, cid, f"加我微信领优惠券 {n}")
        await report(world, carol, "post", post["id"])
        [case] = (await queue(world, alice, cid))["items"]
        body = {"targetKind": "post", "targetId": post["id"], "reason": "fraud"}
        removal, *reports = await asyncio.gather(
            world.client.post(
                f"/v1/moderation/cases/{case['id']}/decision", json={"action": "remove"}, headers=alice.headers
            ),
            *(world.client.post("/v1/reports", json=body, headers=who.headers) for who in others),
        )
        assert removal.status_code == 200, removal.text
        for answer in reports:
            assert answer.status_code in (201, 404), answer.text
        assert (await queue(world, alice, cid))["items"] == [], f"round {n}: a case opened on the removed post"
        mine = (await world.client.get("/v1/me/reports", headers=others[0].headers)).json()["items"]
        assert all(r["outcome"] == "upheld" for r in mine)


async def test_reports_against_the_brands_team_go_to_the_operator(world):
    """The staff do not judge themselves (docs/moderation.md): a report against anyone standing as admin goes to the
    operator, and the brand's team stands as admin in the brand's communities, joined as a plain member too (the
    routing read the membership row alone: a community admin judged the brand's team)."""
    owner, boss, helper, admin, member, brand, cid = await brand_community_with_its_team(world)
    posts = {}
    for who, text in ((helper, "品牌新品试用招募"), (member, "周末一起去爬山吧")):
        posted = await world.client.post(f"/v1/communities/{cid}/posts", json={"text": text}, headers=who.headers)
        assert posted.status_code == 201, posted.text
        posts[who.id] = posted.json()["id"]
        await report(world, member if who is helper else admin, "post", posts[who.id])
    await report(world, member, "member", str(helper.id), communityId=cid, reason="abuse")

    community_cases = (await queue(world, admin, cid))["items"]
    assert [case["targetId"] for case in community_cases] == [posts[member.id]]
    operator = (await world.client.get("/v1/admin/moderation", headers=OPERATOR)).json()["items"]
    assert sorted((case["targetKind"], case["targetId"]) for case in operator) == [
        ("member", str(helper.id)),
        ("post", posts[helper.id]),
    ]
    # A member taken onto the brand's team after being reported is judged by the operator from then on.
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{member.id}", headers=boss.headers)
    assert (await queue(world, admin, cid))["items"] == []
    operator = (await world.client.get("/v1/admin/moderation", headers=OPERATOR)).json()["items"]
    assert posts[member.id] in {case["targetId"] for case in operator}
