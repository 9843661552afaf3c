"""The warm-up robot's introductions and topic prompts over HTTP: two members who share an interest are introduced
(each told of the other, in the inbox), never twice; opt-out respected; blocked members never introduced to each
other; at most one nudge per member per week and the community's daily caps; a silent member prompted with a
topic they care about; nothing while the robot is off."""

from __future__ import annotations

from service.auth.deletion import erase_due
from service.warmup import nudges
from tests.interests.conftest import get, inbox, opt, robot_on, run


async def introductions(world, who) -> list[tuple[str, str]]:
    """(the other member's nickname, the tag) of each introduction in my inbox."""
    items = await inbox(world, who, "introduction")
    for item in items:
        assert item["subjectType"] == "user" and item["subjectId"] == item["actor"]["id"] == item["data"]["userId"]
    return sorted((item["actor"]["nickname"], item["data"]["tag"]) for item in items)


async def _coffee_drinkers(world, jobs, count: int) -> list:
    """``count`` members of an owner's community who each wrote of coffee, the robot on and their interests read:
    every pair of them may be introduced."""
    owner, *people = [await world.member(n) for n in ("owner", *(f"m{i}" for i in range(1, count + 1)))]
    cid = await world.community(owner, *people)
    for who in people:
        await world.post(who, cid, "每天喝一杯咖啡")
    await robot_on(world, owner, cid)
    await run(jobs, "interests.extract")
    return people


async def test_members_who_share_an_interest_are_introduced_once_opt_out_and_blocks_respected(world, jobs, db):
    alice, bob, carol, dan, erin = [await world.member(n) for n in ("alice", "bob", "carol", "dan", "erin")]
    cid = await world.community(alice, bob, carol, dan, erin)
    for who in (bob, carol, dan, erin):
        await world.post(who, cid, "周末去跑步，有人一起吗")
        await world.post(who, cid, "跑步真是最好的运动")
    await world.post(alice, cid, "我喜欢钓鱼")
    assert (await world.client.post("/v1/me/blocks", json={"userId": str(dan.id)}, headers=carol.headers)).is_success
    assert (await opt(world, erin, False))["introductions"] is False
    assert (await get(world, erin, "/v1/me/interest-settings"))["introductions"] is False
    await run(jobs, "interests.extract")

    await run(jobs, "robots.nudges")  # the robot is off: nothing
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges") == 0

    await robot_on(world, alice, cid)
    await run(jobs, "robots.nudges")
    # One pair: bob and carol or bob and dan (carol blocked dan, erin opted out); one nudge per member a week.
    first = await introductions(world, bob)
    assert len(first) == 1 and first[0][0] in ("carol", "dan") and first[0][1] == "跑步"
    met, waiting = (carol, dan) if first[0][0] == "carol" else (dan, carol)
    assert await introductions(world, met) == [("bob", "跑步")]
    for who in (alice, waiting, erin):
        assert await introductions(world, who) == []
    await run(jobs, "robots.nudges")
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges") == 2

    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '8 days'")
    await run(jobs, "robots.nudges")
    # A week later bob meets the other; bob is never introduced to the first again, carol and dan never.
    assert [name for name, _ in await introductions(world, bob)] == ["carol", "dan"]
    assert await introductions(world, carol) == [("bob", "跑步")]
    assert await introductions(world, dan) == [("bob", "跑步")]
    assert await introductions(world, erin) == []

    # Back in: erin is introduced to those she has not met (one a week).
    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '8 days'")
    assert (await opt(world, erin, True))["introductions"] is True
    await run(jobs, "robots.nudges")
    met = await introductions(world, erin)
    assert len(met) == 1 and met[0][0] in ("bob", "carol", "dan")


async def test_the_daily_caps_and_the_weekly_bound_hold(world, jobs, db, monkeypatch):
    await _coffee_drinkers(world, jobs, 6)
    monkeypatch.setattr(nudges, "INTRODUCTIONS_PER_DAY", 2)

    await run(jobs, "robots.nudges")
    await run(jobs, "robots.nudges")
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE kind = 'introduction'") == 4  # two pairs
    # A day later the cap has room again: the third pair (the four introduced wait for their week).
    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '25 hours'")
    await run(jobs, "robots.nudges")
    rows = await db.fetch("SELECT user_id, count(*) AS n FROM warmup_nudges GROUP BY user_id")
    assert len(rows) == 6 and all(row["n"] == 1 for row in rows)
    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '25 hours'")
    await run(jobs, "robots.nudges")
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges") == 6  # everyone had one this week


async def test_a_silent_member_is_prompted_with_a_topic_they_care_about(world, jobs, db, monkeypatch):
    owner, quiet, talker, other = [await world.member(n) for n in ("owner", "quiet", "talker", "other")]
    cid = await world.community(owner, quiet, talker, other)
    await world.post(quiet, cid, "手冲咖啡的水温多少合适")
    await world.post(quiet, cid, "咖啡是我的最爱")
    await db.execute("UPDATE posts SET created_at = now() - interval '20 days' WHERE author_id = $1", quiet.id)
    topic = await world.post(talker, cid, "这家店的咖啡很香，豆子新鲜")
    await world.post(other, cid, "今晚去看电影")
    await assert_opted_in(world, quiet)
    await robot_on(world, owner, cid)
    await run(jobs, "interests.extract")
    monkeypatch.setattr(nudges, "INTRODUCTIONS_PER_DAY", 0)  # prompts only here

    await run(jobs, "robots.nudges")
    prompts = await inbox(world, quiet, "interest_prompt")
    assert len(prompts) == 1
    assert prompts[0]["data"] == {"tag": "咖啡", "postId": topic["id"]} and prompts[0]["subjectId"] == topic["id"]
    for who in (talker, other):  # they spoke this week: not silent
        assert await inbox(world, who, "interest_prompt") == []
    await run(jobs, "robots.nudges")
    assert len(await inbox(world, quiet, "interest_prompt")) == 1  # once a week at most

    # The daily cap, and opt-out: a second silent member waits for the cap, an opted-out one is never prompted.
    await db.execute("UPDATE posts SET created_at = now() - interval '10 days' WHERE author_id = ANY($1::bigint[])",
                     [talker.id, other.id])  # fmt: skip
    await opt(world, other, False)
    monkeypatch.setattr(nudges, "PROMPTS_PER_DAY", 1)
    await run(jobs, "robots.nudges")
    assert await inbox(world, talker, "interest_prompt") == []
    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '25 hours'")
    await run(jobs, "robots.nudges")
    told = await inbox(world, talker, "interest_prompt")
    # No one else wrote on it in the last two weeks (quiet did 20 days ago): the community.
    assert len(told) == 1 and told[0]["data"]["tag"] == "咖啡"
    assert told[0]["subjectType"] == "community" and "postId" not in told[0]["data"]
    assert await inbox(world, other, "interest_prompt") == []


async def test_a_member_muted_by_the_admins_is_not_nudged_to_speak(world, jobs, db, monkeypatch):
    """A member under an admin's mute cannot post nor comment (member_muted): the robot neither prompts them to
    write about their interest nor introduces them, until the mute ends."""
    owner, quiet, fan = [await world.member(n) for n in ("owner", "quiet", "fan")]
    cid = await world.community(owner, quiet, fan)
    for who in (quiet, fan):
        await world.post(who, cid, "手冲咖啡的水温多少合适")
        await world.post(who, cid, "咖啡是我的最爱")
    await db.execute("UPDATE posts SET created_at = now() - interval '20 days'")
    await robot_on(world, owner, cid)
    await run(jobs, "interests.extract")
    muted = await world.client.put(
        f"/v1/communities/{cid}/members/{quiet.id}", json={"muteMinutes": 600}, headers=owner.headers
    )
    assert muted.status_code == 200, muted.text

    await run(jobs, "robots.nudges")
    assert await inbox(world, quiet, "interest_prompt") == [] and await introductions(world, quiet) == []
    assert await introductions(world, fan) == []  # nobody to meet but the muted member (fan is prompted instead)
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE user_id = $1", quiet.id) == 0

    await db.execute("UPDATE memberships SET muted_until = now() - interval '1 second' WHERE user_id = $1", quiet.id)
    await run(jobs, "robots.nudges")
    (prompt,) = await inbox(world, quiet, "interest_prompt")  # the mute ended: nudged like anyone silent
    assert prompt["data"]["tag"] == "咖啡"


async def assert_opted_in(world, who) -> None:
    settings = await get(world, who, "/v1/me/interest-settings")
    assert settings == {"introductions": True, "updatedAt": None}


async def test_the_export_holds_my_interests_and_the_erasure_takes_them(world, jobs, db):
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    for who in (bob, carol):
        await world.post(who, cid, "周末去跑步，有人一起吗")
    await robot_on(world, alice, cid)
    await run(jobs, "interests.extract")
    await run(jobs, "robots.nudges")
    assert await introductions(world, carol) == [("bob", "跑步")]
    await opt(world, bob, False)

    exported = await get(world, bob, "/v1/me/export")
    assert [(i["communityId"], i["tag"]) for i in exported["interests"]] == [(cid, "跑步")]
    assert exported["interestSettings"]["introductions"] is False

    assert (await world.client.delete("/v1/me", headers=bob.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", bob.id)
    await run(jobs, "accounts.erase")
    assert await db.fetchval("SELECT erased_at FROM users WHERE id = $1", bob.id) is not None
    for table, column in (("member_interests", "user_id"), ("interest_preferences", "user_id")):
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", bob.id) == 0  # noqa: S608
    # The nudges naming bob go too, carol's included.
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE $1 IN (user_id, other_id)", bob.id) == 0


async def test_the_erasure_takes_the_introductions_naming_the_member_from_others_inboxes(world, jobs, db):
    """docs/privacy.md: the robot's introductions sent to or naming the member go; others' introductions stay."""
    alice, bob, carol, dan, erin = [await world.member(n) for n in ("alice", "bob", "carol", "dan", "erin")]
    cid = await world.community(alice, bob, carol, dan, erin)
    for who in (bob, carol):
        await world.post(who, cid, "周末去跑步，有人一起吗")
        await world.post(who, cid, "跑步真是最好的运动")
    for who in (dan, erin):
        await world.post(who, cid, "今晚练瑜伽")
        await world.post(who, cid, "瑜伽让人放松")
    await run(jobs, "interests.extract")
    await robot_on(world, alice, cid)
    await run(jobs, "robots.nudges")
    assert await introductions(world, bob) == [("carol", "跑步")]
    assert await introductions(world, dan) == [("erin", "瑜伽")]

    assert (await world.client.delete("/v1/me", headers=carol.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", carol.id)
    assert await erase_due(jobs.pool) == 1
    assert await introductions(world, bob) == []  # bob was told of carol and her 跑步: gone
    assert await introductions(world, dan) == [("erin", "瑜伽")]


async def test_the_export_lists_my_interests_by_community_across_a_longer_id(world, jobs, db):
    # Found by review: the export ordered them by the community's id as text, community 10 before community 9.
    alice, bob = [await world.member(n) for n in ("alice", "bob")]
    await db.execute("SELECT setval(pg_get_serial_sequence('communities', 'id'), 8)")
    communities = [await world.community(alice, bob, name=name) for name in ("跑团", "书友会")]
    assert communities == ["9", "10"]
    for cid in communities:
        await world.post(bob, cid, "周末去跑步，有人一起吗")
    await run(jobs, "interests.extract")
    exported = await get(world, bob, "/v1/me/export")
    assert [(i["communityId"], i["tag"]) for i in exported["interests"]] == [(cid, "跑步") for cid in communities]


async def test_an_erasure_does_not_reset_the_weekly_bound_of_the_member_introduced_to_them(world, jobs, db):
    # Found by review: the erasure deleted the other member's record of the introduction too, so the robot nudged
    # them again at its next run, within the week (bob may be introduced during his cooling-off, then erased).
    alice, bob, carol, dan = [await world.member(n) for n in ("alice", "bob", "carol", "dan")]
    cid = await world.community(alice, bob, carol, dan)
    for who in (bob, carol):
        await world.post(who, cid, "周末去跑步，有人一起吗")
        await world.post(who, cid, "跑步真是最好的运动")
    await robot_on(world, alice, cid)
    await run(jobs, "interests.extract")
    await run(jobs, "robots.nudges")
    assert await introductions(world, carol) == [("bob", "跑步")]
    await world.post(dan, cid, "周末去跑步，有人一起吗")
    await world.post(dan, cid, "跑步真是最好的运动")
    await run(jobs, "interests.extract")

    assert (await world.client.delete("/v1/me", headers=bob.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", bob.id)
    assert await erase_due(jobs.pool) == 1
    assert await introductions(world, carol) == []  # the item naming bob went
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE $1 IN (user_id, other_id)", bob.id) == 0

    await run(jobs, "robots.nudges")
    assert await introductions(world, carol) == []  # carol had her nudge this week
    assert await introductions(world, dan) == []  # and dan has no one else to meet
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE user_id = $1", carol.id) == 1


async def test_the_daily_introduction_cap_still_counts_a_pair_whose_member_was_erased(world, jobs, db, monkeypatch):
    """docs/interests.md: an introduction of an erased member stays in the other's record, so the community's cap
    still counts it. Found by review: the cap halved the rows left (one of the pair's two), so an erasure gave the
    community another introduction within the same 24 hours."""
    people = await _coffee_drinkers(world, jobs, 4)
    monkeypatch.setattr(nudges, "INTRODUCTIONS_PER_DAY", 1)
    monkeypatch.setattr(nudges, "PROMPTS_PER_DAY", 0)
    await run(jobs, "robots.nudges")
    first = await db.fetchval("SELECT min(user_id) FROM warmup_nudges WHERE kind = 'introduction'")
    gone = next(who for who in people if who.id == first)
    assert (await world.client.delete("/v1/me", headers=gone.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", gone.id)
    assert await erase_due(jobs.pool) == 1

    await run(jobs, "robots.nudges")
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE kind = 'introduction'") == 1  # no new pair
    await db.execute("UPDATE warmup_nudges SET created_at = created_at - interval '25 hours'")
    await run(jobs, "robots.nudges")  # a day later: the other two meet
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges WHERE kind = 'introduction'") == 3


async def test_a_member_in_the_deletion_cooling_off_is_neither_nudged_nor_introduced(world, jobs, db):
    """A member who asked to delete their account (docs/privacy.md: the cooling-off) is not introduced to anyone, so
    no one is told to meet an account about to be erased, and is not prompted; logging in again cancels the deletion,
    and the robot may introduce them again."""
    leaving, other = await _coffee_drinkers(world, jobs, 2)
    assert (await world.client.delete("/v1/me", headers=leaving.headers)).status_code == 202

    await run(jobs, "robots.nudges")
    assert await db.fetchval("SELECT count(*) FROM warmup_nudges") == 0
    assert await introductions(world, other) == []

    await world.member("m1")  # the login cancels the deletion
    await run(jobs, "robots.nudges")
    assert await introductions(world, other) == [("m1", "咖啡")]
