"""Participation (contribution, which reward pools pay by) earned once: per occurrence however often a check-in is made
void and made again, per meetup however often a member who checked in at the venue gives up the place and signs up
again."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from service.interactions import logic as interactions
from tests.operating.test_activities import check_in, create_activity
from tests.operating.test_meetups import at, create_meetup, sign_up
from tests.world import assert_problem


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob", "carol")]


async def participation(world, owner, community_id: str) -> dict[int, int]:
    """Each member's participation today on the leaderboard (what reward pools pay by), after a roll-up."""
    async with world.pool.acquire() as conn:
        await interactions.rollup_incremental(conn, world.settings)
    today = str(datetime.now(ZoneInfo(world.settings.metrics_timezone)).date())
    board = await world.api.get(
        f"/v1/communities/{community_id}/leaderboard", params={"from": today, "to": today}, headers=owner.headers
    )
    assert board.status_code == 200, board.text
    return {int(item["userId"]): item["details"]["participation"] for item in board.json()["items"]}


async def test_checking_in_again_after_deleting_the_post_earns_no_second_participation(world, people):
    # Found in review: each check-in recorded the interaction `check_in` (participation, +2 contribution, which reward
    # pools pay by), and one whose post is deleted leaves the occurrence open to another: check in, delete the post,
    # check in again, as often as the window lasts, and each round earned participation once more.
    alice, bob, carol = people
    cid = await world.community(alice, bob, carol)
    aid = (await create_activity(world, alice, cid, rewardPoints=10))["id"]
    for n in range(3):
        made = await check_in(world, bob, aid, f"第 {n + 1} 次：六点起床，跑了五公里")
        assert made.status_code == 201, made.text
        deleted = await world.api.delete(f"/v1/posts/{made.json()['postId']}", headers=bob.headers)
        assert deleted.status_code == 204, deleted.text
    kept = await check_in(world, bob, aid, "最后一次：六点起床，跑了五公里")
    assert kept.status_code == 201 and kept.json()["counted"] is True
    assert_problem(await check_in(world, bob, aid, "再来"), 409, "already_checked_in")
    first = await check_in(world, carol, aid, "七点起床，走了一万步")
    assert first.status_code == 201, first.text

    # One occurrence, one participation each, however many times Bob made his check-in again.
    earned = await participation(world, alice, cid)
    assert (earned.get(bob.id, 0), earned.get(carol.id, 0)) == (1, 1)
    # His one counted check-in still earns its points and streak.
    mine = (await world.api.get(f"/v1/activities/{aid}", headers=bob.headers)).json()["me"]
    assert (mine["checkIns"], mine["points"], mine["currentStreak"]) == (1, 10, 1)


async def test_checking_in_at_the_venue_again_after_signing_up_again_earns_no_second_participation(world, people):
    # Found in review: signing up again after giving the place up cleared the sign-up's attendance, so in the hour
    # before the start (check-in is open, a free place can be given up and taken again until the start) a member
    # checked in at the venue, cancelled, signed up and checked in again, each round recording `attendance` again.
    alice, bob, carol = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, startsAt=at(minutes=30)))["id"]
    code = (await world.api.get(f"/v1/meetups/{mid}/venue-code", headers=alice.headers)).json()["code"]
    url = f"/v1/meetups/{mid}/attendance"
    answers = []
    for _ in range(3):
        signed = await sign_up(world, bob, mid)
        assert signed.status_code == 201 and signed.json()["signup"]["status"] == "confirmed", signed.text
        attended = await world.api.post(url, json={"code": code}, headers=bob.headers)
        answers.append((attended.status_code, attended.json()["attendedAt"]))
        cancelled = await world.api.delete(f"/v1/meetups/{mid}/signups/me", headers=bob.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    # Checked in once: the first time's answer and time, kept through giving the place up and taking it again.
    assert [status for status, _ in answers] == [201, 200, 200]
    assert len({attended_at for _, attended_at in answers}) == 1
    assert (await sign_up(world, carol, mid)).status_code == 201
    assert (await world.api.post(url, json={"code": code}, headers=carol.headers)).status_code == 201

    earned = await participation(world, alice, cid)
    assert (earned.get(bob.id, 0), earned.get(carol.id, 0)) == (1, 1)
