"""Interest tags over HTTP: keywords of members' posts, comments and poll proposals, counted by the job once,
bounded per member, without stop words or numbers, Chinese intact; the community's top tags for its admins; the
routes refuse strangers and plain members as documented."""

from __future__ import annotations

import asyncpg

from service.interests import extraction
from tests.interests.conftest import get, open_poll, run, tags
from tests.world import assert_problem


async def test_a_member_who_writes_about_running_and_coffee_has_both_tags(world, jobs, db):
    alice, bob, carol, dan = [await world.member(name) for name in ("alice", "bob", "carol", "dan")]
    cid = await world.community(alice, bob, carol)
    first = await world.post(bob, cid, "今天早上跑步五公里，大家一起来跑步吧")
    await world.comment(bob, first["id"], "跑完步喝一杯手冲咖啡，太舒服了")
    poll_id = await open_poll(world, alice, cid)
    proposal = await world.client.post(f"/v1/polls/{poll_id}/proposals", json={"name": "冷萃咖啡"}, headers=bob.headers)
    assert proposal.status_code == 201, proposal.text
    await world.post(carol, cid, "周末一起去爬山，带上相机拍照")
    await world.post(carol, cid, "爬山装备求推荐")

    assert await tags(world, bob, cid) == []  # nothing until the job ran
    await run(jobs, "interests.extract")
    mine = await get(world, bob, f"/v1/communities/{cid}/interests/mine")
    names = [t["tag"] for t in mine["tags"]]
    assert {"跑步", "咖啡"} <= set(names), names
    assert names[0] in ("跑步", "咖啡")  # written twice each: the strongest
    assert not {"今天", "大家", "五公里", "一起"} & set(names)  # stop words and numbers are left out
    assert mine["introductions"] is True and mine["updatedAt"] is not None
    weights = [t["weight"] for t in mine["tags"]]
    assert weights == sorted(weights, reverse=True) and weights[0] > 1.5
    assert "爬山" in await tags(world, carol, cid) and "爬山" not in names

    # Read once: running the job again counts nothing twice.
    await run(jobs, "interests.extract")
    again = await get(world, bob, f"/v1/communities/{cid}/interests/mine")
    assert again["tags"] == mine["tags"]

    # The community's top tags, by members sharing them, for admins; Chinese as written on the wire.
    response = await world.client.get(f"/v1/communities/{cid}/interests", headers=alice.headers)
    assert response.status_code == 200 and "跑步".encode() in response.content
    top = {t["tag"]: t["members"] for t in response.json()["tags"]}
    assert top["跑步"] == 1 and top["爬山"] == 1
    await world.post(carol, cid, "我也喜欢跑步")
    await run(jobs, "interests.extract")
    top = (await get(world, alice, f"/v1/communities/{cid}/interests"))["tags"]
    assert top[0]["tag"] == "跑步" and top[0]["members"] == 2

    # Refusals: a plain member does not read the community's; a stranger reads neither.
    assert_problem(await world.client.get(f"/v1/communities/{cid}/interests", headers=bob.headers), 403, "forbidden")
    for path in ("interests", "interests/mine"):
        response = await world.client.get(f"/v1/communities/{cid}/{path}", headers=dan.headers)
        assert_problem(response, 403, "not_member")
    assert_problem(
        await world.client.get("/v1/communities/999999/interests/mine", headers=dan.headers), 404, "not_found"
    )


async def test_tags_are_bounded_and_held_content_waits(world, jobs, db, monkeypatch):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    hobbies = ["瑜伽", "篮球", "羽毛球", "摄影", "露营", "钓鱼", "烘焙", "滑雪", "吉他", "编程", "围棋", "象棋"]
    monkeypatch.setattr(extraction, "MEMBER_TAGS", 5)
    for hobby in hobbies:
        await world.post(bob, cid, f"最近迷上了{hobby}")
    await world.post(bob, cid, "瑜伽课真不错")
    await run(jobs, "interests.extract")
    names = await tags(world, bob, cid)
    assert len(names) == 5 and names[0] == "瑜伽"

    # A post held for review stops the reading until WeChat decided; a deleted one is never counted.
    held = await db.fetchval(
        "INSERT INTO posts (community_id, author_id, text, status) VALUES ($1, $2, '我爱冲浪', 'pending') RETURNING id",
        int(cid),
        bob.id,
    )
    gone = await world.post(bob, cid, "潜水潜水潜水")
    assert (await world.client.delete(f"/v1/posts/{gone['id']}", headers=bob.headers)).status_code == 204
    await run(jobs, "interests.extract")
    assert await db.fetchval("SELECT last_id FROM interest_progress WHERE source = 'posts'") == held - 1
    await db.execute("UPDATE posts SET status = 'visible' WHERE id = $1", held)
    monkeypatch.setattr(extraction, "MEMBER_TAGS", 20)
    await run(jobs, "interests.extract")
    names = await tags(world, bob, cid)
    assert "冲浪" in names and "潜水" not in names


async def test_a_text_committed_after_a_later_one_still_counts(world, jobs, database_url):
    """Ids are taken at insert, rows seen at commit: a post whose transaction (a check-in's, say) commits after a
    later post's was passed over by the reading's cursor and never counted."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    slow = await asyncpg.connect(database_url)
    try:
        async with slow.transaction():
            await slow.execute(
                "INSERT INTO posts (community_id, author_id, text, status) VALUES ($1, $2, $3, 'visible')",
                int(cid),
                bob.id,
                "周末去香山徒步，徒步之后露营看星星",
            )
            await world.post(carol, cid, "晚上在家看电影，推荐一部科幻电影")
            await run(jobs, "interests.extract")  # the job runs meanwhile: bob's id is below carol's, not yet seen
            assert await tags(world, carol, cid) == []  # carol's waits for the transaction under it to end
    finally:
        await slow.close()
    await run(jobs, "interests.extract")
    assert "徒步" in await tags(world, bob, cid)
    assert "电影" in await tags(world, carol, cid)


async def test_what_an_erased_member_wrote_before_the_job_read_it_gives_them_no_interests(world, jobs, db):
    # Found by review: the job weighed texts of an account erased since (the posts stay, under the tombstone), so the
    # erased member had interest rows again. The post's own tags stay with the post (they name no one).
    alice, bob = [await world.member(n) for n in ("alice", "bob")]
    cid = await world.community(alice, bob)
    post = await world.post(bob, cid, "周末去跑步，有人一起吗")
    await world.post(alice, cid, "跑步真是最好的运动")
    assert (await world.client.delete("/v1/me", headers=bob.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", bob.id)
    await run(jobs, "accounts.erase")
    assert await db.fetchval("SELECT erased_at FROM users WHERE id = $1", bob.id) is not None

    await run(jobs, "interests.extract")
    assert await db.fetchval("SELECT count(*) FROM member_interests WHERE user_id = $1", bob.id) == 0
    assert "跑步" in await tags(world, alice, cid)  # the others are weighed as ever
    assert await db.fetchval("SELECT count(*) FROM post_tags WHERE post_id = $1", int(post["id"])) == 1
