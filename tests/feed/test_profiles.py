"""Member profiles over HTTP (docs/search.md): who a member is in a community, their contribution figures by
the definitions the metrics use, their posts by cursor pages; members only."""

from __future__ import annotations

import msgspec

from service.communities.profile_models import MemberProfile
from service.feed.models import FeedPage
from tests.seed import local_window
from tests.world import assert_problem


async def profile(world, who, cid: str, user_id: str, status: int = 200):
    response = await world.client.get(f"/v1/communities/{cid}/members/{user_id}", headers=who.headers)
    assert response.status_code == status, response.text
    if status == 200:
        msgspec.json.decode(response.content, type=MemberProfile)
    return response


async def test_a_profile_shows_the_member_and_their_contribution(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol)
    intro = await world.client.post(
        f"/v1/communities/{cid}/introduction", json={"text": "大家好，我是小林，爱跑步"}, headers=bob.headers
    )
    assert intro.status_code in (200, 201), intro.text
    first = await world.post(bob, cid, "今天跑了十公里，很开心")
    await world.post(bob, cid, "今天跑了十公里，很开心")  # the same words again: counted once
    await world.post(bob, cid, "好")  # too short to count
    await world.post(bob, cid, "周末有人一起爬山吗 sandbox-review")  # held: not counted
    await world.comment(bob, first["id"], "补充一下路线图")
    await world.comment(bob, first["id"], "嗯")
    essence = await world.client.put(f"/v1/posts/{first['id']}/essence", headers=alice.headers)
    assert essence.status_code == 200, essence.text
    body = {
        "title": "早起打卡",
        "prompt": "晒出早上的照片",
        "recurrence": "daily",
        "rewardPoints": 10,
        **local_window(),
    }
    activity = await world.client.post(f"/v1/communities/{cid}/activities", json=body, headers=alice.headers)
    assert activity.status_code == 201, activity.text
    checked = await world.client.post(
        f"/v1/activities/{activity.json()['id']}/check-ins", json={"text": "六点起床打卡"}, headers=bob.headers
    )
    assert checked.status_code == 201, checked.text

    shown = (await profile(world, carol, cid, bob.id)).json()
    assert (
        shown["nickname"] == "bob" and shown["role"] == "member" and shown["introduction"] == "大家好，我是小林，爱跑步"
    )
    # Valid posts: the introduction, the run (once) and the check-in's post; valid comments: one.
    assert shown["contribution"] == {
        "validPosts": 3,
        "validComments": 1,
        "essencePosts": 1,
        "checkIns": 1,
        "currentStreak": 1,
        "longestStreak": 1,
        "points": 10,
    }
    owner = (await profile(world, bob, cid, "me")).json()
    assert owner["userId"] == str(bob.id)
    assert (await profile(world, bob, cid, alice.id)).json()["role"] == "owner"

    assert_problem(await profile(world, dave, cid, bob.id, 403), 403, "not_member")
    assert_problem(await profile(world, bob, cid, dave.id, 404), 404, "not_found")
    assert_problem(await profile(world, bob, "999999", alice.id, 404), 404, "not_found")


async def test_a_members_posts_page_by_cursor(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol)
    mine = [await world.post(bob, cid, f"第{i}篇日记") for i in range(3)]
    await world.post(alice, cid, "别人的帖子")
    held = await world.post(bob, cid, "待审核 sandbox-review")
    url = f"/v1/communities/{cid}/members/{bob.id}/posts"

    seen, cursor = [], None
    while True:
        response = await world.client.get(
            url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=carol.headers
        )
        assert response.status_code == 200, response.text
        page = msgspec.json.decode(response.content, type=FeedPage)
        seen += [item.id for item in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == [p["id"] for p in reversed(mine)]  # newest first, not the held one, nobody else's
    own = (await world.client.get(url, headers=bob.headers)).json()["items"]
    assert own[0]["id"] == held["id"]  # the author sees their own held post, marked pending

    assert_problem(await world.client.get(url, headers=dave.headers), 403, "not_member")
    assert_problem(
        await world.client.get(f"/v1/communities/{cid}/members/{dave.id}/posts", headers=bob.headers), 404, "not_found"
    )


async def test_my_own_posts_answer_to_me_as_my_profile_does(world):
    """`…/members/me` answers my profile; `…/members/me/posts` answered 400 validation_failed (the path took ids
    alone), so the mini program needed my id to list my posts there."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    mine = await world.post(bob, cid, "我的第一篇")
    await world.post(alice, cid, "别人的帖子")
    held = await world.post(bob, cid, "待审核 sandbox-review")
    response = await world.client.get(f"/v1/communities/{cid}/members/me/posts", headers=bob.headers)
    assert response.status_code == 200, response.text
    page = msgspec.json.decode(response.content, type=FeedPage)
    assert [item.id for item in page.items] == [held["id"], mine["id"]]  # as by my id: my held post too
    for bad in ("you", "0", "9007199254740992"):
        url = f"/v1/communities/{cid}/members/{bad}/posts"
        assert_problem(await world.client.get(url, headers=bob.headers), 400, "validation_failed")
