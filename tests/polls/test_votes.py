"""Votes: N per member and one per proposal under 50 concurrent requests, changes and withdrawals."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from service.interactions import logic
from tests.world import assert_problem


async def _voting_poll(world, names: int = 10, **fields) -> tuple[str, list[str]]:
    poll = await world.open_poll(proposalsPerMember=10, **fields)
    carol = world.members[0]
    proposals = [await world.proposal(carol, poll["id"], f"名字 {i}") for i in range(names)]
    assert (await world.advance(poll["id"])).status_code == 200
    return poll["id"], proposals


async def test_no_member_exceeds_n_votes_with_50_parallel_requests(world):
    dave = world.members[1]
    poll_id, proposals = await _voting_poll(world, votesPerMember=3)
    answers = await asyncio.gather(*(world.vote(dave, poll_id, proposals[i % 10]) for i in range(50)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 3, 409: 47}, statuses
    codes = Counter(a.json()["code"] for a in answers if a.status_code == 409)
    assert set(codes) <= {"vote_limit_reached", "already_voted"}
    async with world.db() as conn:
        rows = await conn.fetch(
            "SELECT proposal_id FROM poll_votes WHERE poll_id = $1 AND user_id = $2 AND status = 'active'",
            int(poll_id),
            dave.id,
        )
    assert len(rows) == 3 and len({r["proposal_id"] for r in rows}) == 3
    me = (await world.poll(poll_id, dave))["me"]
    assert me["votesUsed"] == 3 and me["votesLeft"] == 0


async def test_several_members_voting_at_once_each_stay_within_their_limit(world):
    poll_id, proposals = await _voting_poll(world, votesPerMember=2)
    voters = world.members
    requests = [world.vote(voters[i % 4], poll_id, proposals[(i // 4) % 10]) for i in range(50)]
    answers = await asyncio.gather(*requests)
    assert sum(a.status_code == 201 for a in answers) == 8  # 4 members x 2 votes
    async with world.db() as conn:
        per_member = await conn.fetch(
            "SELECT user_id, count(*) AS n FROM poll_votes WHERE poll_id = $1 AND status = 'active' GROUP BY user_id",
            int(poll_id),
        )
    assert sorted(r["n"] for r in per_member) == [2, 2, 2, 2]


async def test_one_vote_per_proposal(world):
    dave = world.members[1]
    poll_id, proposals = await _voting_poll(world, names=2, votesPerMember=3)
    await world.voted(dave, poll_id, proposals[0])
    assert_problem(await world.vote(dave, poll_id, proposals[0]), 409, "already_voted")
    parallel = await asyncio.gather(*(world.vote(dave, poll_id, proposals[1]) for _ in range(20)))
    assert sorted(a.status_code for a in parallel) == [201] + [409] * 19


async def test_votes_change_until_the_deadline_when_allowed(world):
    dave = world.members[1]
    poll_id, (a, b, c, *_) = await _voting_poll(world, votesPerMember=2)
    await world.voted(dave, poll_id, a)
    await world.voted(dave, poll_id, b)
    assert_problem(await world.vote(dave, poll_id, c), 409, "vote_limit_reached")

    withdrawn = await world.client.delete(f"/v1/polls/{poll_id}/votes/{a}", headers=dave.headers)
    assert withdrawn.status_code == 204
    await world.voted(dave, poll_id, c)

    replaced = await world.client.put(f"/v1/polls/{poll_id}/votes", json={"proposalIds": [a]}, headers=dave.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"votedProposalIds": [a], "votesUsed": 1, "votesLeft": 1}
    too_many = await world.client.put(
        f"/v1/polls/{poll_id}/votes", json={"proposalIds": [a, b, c]}, headers=dave.headers
    )
    assert_problem(too_many, 409, "vote_limit_reached")
    twice = await world.client.put(f"/v1/polls/{poll_id}/votes", json={"proposalIds": [a, a]}, headers=dave.headers)
    assert_problem(twice, 400, "validation_failed")
    unknown = await world.client.put(
        f"/v1/polls/{poll_id}/votes", json={"proposalIds": ["999999"]}, headers=dave.headers
    )
    assert_problem(unknown, 404, "not_found")

    # The record keeps every vote and withdrawal.
    async with world.db() as conn:
        rows = await conn.fetch(
            "SELECT proposal_id, status, withdraw_reason FROM poll_votes WHERE user_id = $1 ORDER BY id", dave.id
        )
    assert [(r["status"], r["withdraw_reason"]) for r in rows] == [
        ("withdrawn", "member"),
        ("withdrawn", "changed"),
        ("withdrawn", "changed"),
        ("active", None),
    ]
    # Participation counts once per proposal voted for, however often the vote was changed.
    async with world.db() as conn:
        votes_recorded = await conn.fetchval(
            "SELECT count(*) FROM interaction_events WHERE user_id = $1 AND kind = 'vote'", dave.id
        )
    assert votes_recorded == 3


async def test_votes_are_final_when_the_poll_says_so(world):
    dave = world.members[1]
    poll_id, (a, b, *_) = await _voting_poll(world, votesPerMember=2, allowVoteChanges=False)
    await world.voted(dave, poll_id, a)
    withdraw = await world.client.delete(f"/v1/polls/{poll_id}/votes/{a}", headers=dave.headers)
    assert_problem(withdraw, 409, "vote_changes_not_allowed")
    replace = await world.client.put(f"/v1/polls/{poll_id}/votes", json={"proposalIds": [b]}, headers=dave.headers)
    assert_problem(replace, 409, "vote_changes_not_allowed")
    # Adding to my votes is no change of mind: allowed.
    more = await world.client.put(f"/v1/polls/{poll_id}/votes", json={"proposalIds": [a, b]}, headers=dave.headers)
    assert more.status_code == 200 and more.json()["votesLeft"] == 0


async def test_a_retried_vote_with_an_idempotency_key_is_counted_once(world):
    dave = world.members[1]
    poll_id, (a, *_) = await _voting_poll(world, names=1)
    headers = {**dave.headers, "Idempotency-Key": "vote-1"}
    url = f"/v1/polls/{poll_id}/votes"
    first, again = [await world.client.post(url, json={"proposalId": a}, headers=headers) for _ in range(2)]
    assert first.status_code == again.status_code == 201 and first.content == again.content


async def test_participation_is_recorded_as_interactions(world):
    carol, dave, *_ = world.members
    poll = await world.open_poll()
    proposal = await world.proposal(carol, poll["id"], "晨光")
    await world.advance(poll["id"])
    await world.voted(dave, poll["id"], proposal)
    async with world.db() as conn:
        rows = await conn.fetch(
            "SELECT user_id, kind, community_id FROM interaction_events WHERE kind IN ('proposal', 'vote') ORDER BY id"
        )
    community = int(world.community_id)
    assert [(r["user_id"], r["kind"], r["community_id"]) for r in rows] == [
        (carol.id, "proposal", community),
        (dave.id, "vote", community),
    ]


async def test_participation_points_count_only_what_stands_when_the_poll_closes(world):
    # Found in review: every proposal earned participation points (+2) even when an admin hid it as spam, and a vote
    # earned them once per proposal ever voted for, so a member holding one vote withdrew and voted again through every
    # proposal and collected +2 each. Rewards are paid from these scores (docs/metrics.md).
    carol, dave, erin, frank = world.members
    poll_id = (await world.open_poll(votesPerMember=1, proposalsPerMember=3))["id"]
    dawn, dusk = [await world.proposal(carol, poll_id, name) for name in ("晨光", "暮色")]
    spam = await world.proposal(carol, poll_id, "加微信领红包")
    star = await world.proposal(erin, poll_id, "星河")
    typo = await world.proposal(frank, poll_id, "晨光号")
    hide = {"status": "hidden", "reason": "广告"}
    hidden = await world.client.put(f"/v1/polls/{poll_id}/proposals/{spam}", json=hide, headers=world.admin.headers)
    assert hidden.status_code == 200, hidden.text
    assert (await world.advance(poll_id)).status_code == 200

    # Dave holds one vote: on frank's name, carried to carol's by the merge, then withdrawn and cast around.
    await world.voted(dave, poll_id, typo)
    merge = f"/v1/polls/{poll_id}/proposals/{typo}/merge"
    merged = await world.client.post(merge, json={"intoProposalId": dawn}, headers=world.admin.headers)
    assert merged.status_code == 200, merged.text
    for withdraw, cast in ((dawn, dusk), (dusk, star)):
        gone = await world.client.delete(f"/v1/polls/{poll_id}/votes/{withdraw}", headers=dave.headers)
        assert gone.status_code == 204, gone.text
        await world.voted(dave, poll_id, cast)
    await world.voted(erin, poll_id, dawn)

    async def participation() -> dict[int, int]:
        async with world.db() as conn:
            await logic.rollup_incremental(conn, world.settings)
        today = str(datetime.now(ZoneInfo(world.settings.metrics_timezone)).date())
        board = await world.client.get(
            f"/v1/communities/{world.community_id}/leaderboard",
            params={"from": today, "to": today},
            headers=world.owner.headers,
        )
        assert board.status_code == 200, board.text
        return {int(i["userId"]): i["details"]["participation"] for i in board.json()["items"]}

    # While the poll is open nothing stands yet: votes can still change, proposals can still be hidden.
    before = await participation()
    assert [before.get(who.id, 0) for who in (carol, dave, erin, frank)] == [0, 0, 0, 0]

    await world.close(poll_id)
    # Carol: her two names (not the hidden one); dave: the one vote he holds; erin: her name and her vote; frank: his
    # name merged into carol's (still his idea).
    after = await participation()
    assert [after.get(who.id, 0) for who in (carol, dave, erin, frank)] == [2, 1, 2, 1]
