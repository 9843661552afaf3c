"""A poll and the standing of its members (docs/polls.md, "Who takes part"): a member muted by an admin (禁言) still
votes but does not speak; the votes of one who left or was removed before the close do not count; the announcement
reads in the community's time zone (China time unless the owner chose another)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.polls.conftest import poll_body
from tests.support import make_settings
from tests.world import assert_problem, sign_in


@pytest.fixture
def settings(database_url, sandbox):
    # The platform's metrics zone is not the members' clock: set apart from China time, it must not show.
    return make_settings(database_url, wechat_api_base=sandbox.url, metrics_timezone="UTC")


async def _mute(world, who, minutes: int = 60) -> None:
    url = f"/v1/communities/{world.community_id}/members/{who.id}"
    muted = await world.client.put(url, json={"muteMinutes": minutes}, headers=world.owner.headers)
    assert muted.status_code == 200, muted.text


async def test_a_muted_member_votes_and_gives_trial_feedback_but_neither_proposes_nor_posts_it(world):
    """A vote is not speech: nobody reads words of the member. A proposal is (every member reads the name), and so is
    sharing feedback to the feed; the feedback itself goes to the community's admins and the brand only, owed for the
    trial, so a mute does not stop it."""
    carol, dave, _, _ = world.members
    poll = await world.open_poll(rewards={"winningProposer": True, "product": "冷萃 6 瓶"})
    proposal = await world.proposal(dave, poll["id"], "晨光")
    await world.advance(poll["id"])
    await _mute(world, carol)
    await _mute(world, dave)
    assert_problem(await world.propose(carol, poll["id"], "山泉"), 403, "member_muted")
    await world.voted(carol, poll["id"], proposal)
    results = await world.close(poll["id"])
    assert results["winner"]["votes"] == 1 and results["voterCount"] == 1

    (trial,) = (await world.client.get("/v1/me/trials", headers=dave.headers)).json()["items"]
    claimed = await world.client.post(
        f"/v1/trials/{trial['id']}/claim", json={"deliveryNote": "地址"}, headers=dave.headers
    )
    assert claimed.status_code == 200, claimed.text
    given = await world.client.post(
        f"/v1/trials/{trial['id']}/feedback", json={"rating": 4, "text": "口感不错"}, headers=dave.headers
    )
    assert given.status_code == 201, given.text
    shared = await world.client.post(f"/v1/trials/{trial['id']}/feedback/share", headers=dave.headers)
    assert_problem(shared, 403, "member_muted")


async def test_votes_of_members_gone_before_the_close_do_not_count(world):
    """Erin left and Frank was removed while voting was open: their two votes for 晨光 no longer count, so 山泉
    wins (with them, 晨光 won the tie as the earlier proposal); they are no voters and are drawn for nothing."""
    carol, dave, erin, frank = world.members
    poll = await world.open_poll(rewards={"winningProposer": True, "drawnVoters": 5, "product": "冷萃 6 瓶"})
    first = await world.proposal(carol, poll["id"], "晨光")
    second = await world.proposal(dave, poll["id"], "山泉")
    await world.advance(poll["id"])
    for who, proposal in ((erin, first), (frank, first), (carol, second), (dave, second)):
        await world.voted(who, poll["id"], proposal)
    members = f"/v1/communities/{world.community_id}/members"
    assert (await world.client.delete(f"{members}/me", headers=erin.headers)).status_code == 204
    assert (await world.client.delete(f"{members}/{frank.id}", headers=world.owner.headers)).status_code == 204

    results = await world.close(poll["id"])
    assert [(r["name"], r["votes"]) for r in results["ranking"]] == [("山泉", 2), ("晨光", 0)]
    assert results["winner"]["proposalId"] == second
    assert (results["totalVotes"], results["voterCount"]) == (2, 2)
    assert sorted(results["draw"]["eligibleUserIds"]) == [str(carol.id)]  # Dave qualified as the winning proposer
    qualified = {(q["userId"], q["reason"]) for q in results["qualifications"]}
    assert qualified == {(str(dave.id), "winner"), (str(carol.id), "drawn_voter")}
    async with world.db() as conn:
        details = await conn.fetchval(
            "SELECT details FROM poll_audit WHERE poll_id = $1 AND action = 'poll.closed'", int(poll["id"])
        )
    assert details["uncountedVotes"] == 2

    # Leaving after the close changes nothing decided: the ranking is final, the trial is Carol's.
    assert (await world.client.delete(f"{members}/me", headers=carol.headers)).status_code == 204
    again = (await world.client.get(f"/v1/polls/{poll['id']}/results", headers=dave.headers)).json()
    assert again["ranking"] == results["ranking"] and again["qualifications"] == results["qualifications"]
    (trial,) = (await world.client.get("/v1/me/trials", headers=carol.headers)).json()["items"]
    assert trial["reason"] == "drawn_voter" and trial["status"] == "granted"


async def test_the_announcement_gives_the_deadlines_in_the_communitys_time_zone(world):
    """China time by default (the platform's METRICS_TIMEZONE, here UTC, plays no part); a community whose owner set
    another zone for its activities reads its deadlines in that zone too, as its meetup notices."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=10)
    ends = noon + timedelta(days=1, hours=4, minutes=30)
    body = poll_body(proposalsCloseAt=noon.isoformat(), votingCloseAt=ends.isoformat())
    poll = await world.open_poll(**body)
    zone_url = f"/v1/communities/{world.community_id}/timezone"
    moved = await world.client.put(zone_url, json={"timeZone": "Europe/Berlin"}, headers=world.owner.headers)
    assert moved.status_code == 200, moved.text
    later = await world.open_poll(**body)
    async with world.db() as conn:
        texts = [
            await conn.fetchval("SELECT text FROM posts WHERE id = $1", int(p["announcementPostId"]))
            for p in (poll, later)
        ]

    def read(zone: str) -> str:
        at = [t.astimezone(ZoneInfo(zone)).strftime("%m月%d日 %H:%M") for t in (noon, ends)]
        return f"{at[0]} 前提名，{at[1]} 前投票"

    assert "20:00 前提名" in read("Asia/Shanghai")  # noon UTC is 20:00 in China
    assert read("Asia/Shanghai") in texts[0]
    assert read("Europe/Berlin") in texts[1] and read("UTC") not in texts[0] + texts[1]


async def test_votes_of_the_brands_team_count_though_they_are_no_members(world):
    """The brand's team stands in every community of the brand, member or not, and votes there (the access rule): its
    votes count at the close like a member's; a trial is for members, so the draw leaves a team member who is none."""
    carol, dave, _, _ = world.members
    manager = await sign_in(world.client, world.sandbox, "brand-manager")
    async with world.db() as conn:
        brand_id = await conn.fetchval(
            "INSERT INTO brands (owner_id, name) VALUES ($1, '山野咖啡') RETURNING id", world.owner.id
        )
        await conn.execute("UPDATE communities SET brand_id = $1 WHERE id = $2", brand_id, int(world.community_id))
        await conn.execute(
            "INSERT INTO brand_admins (brand_id, user_id, role) VALUES ($1, $2, 'admin')", brand_id, manager.id
        )
    poll = await world.open_poll(rewards={"drawnVoters": 5, "product": "冷萃 6 瓶"})
    first = await world.proposal(carol, poll["id"], "晨光")
    second = await world.proposal(dave, poll["id"], "山泉")
    await world.advance(poll["id"])
    await world.voted(manager, poll["id"], first)
    await world.voted(carol, poll["id"], first)
    await world.voted(dave, poll["id"], second)

    results = await world.close(poll["id"])
    assert [(r["name"], r["votes"]) for r in results["ranking"]] == [("晨光", 2), ("山泉", 1)]
    assert (results["totalVotes"], results["voterCount"]) == (3, 3)
    assert results["draw"]["eligibleUserIds"] == [str(dave.id)]  # Carol won as the proposer; the manager is no member
