"""Results: the ranking and its tie-break, the free-trial rules and the verifiable draw."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from service.polls import draw
from service.polls.closing import Ranked, proposer_awards, rank
from tests.world import assert_problem, notices

_T0 = datetime(2025, 6, 1, tzinfo=UTC)


def _ranked(proposal_id: int, votes: int, minutes: int, proposer: int | None = None) -> Ranked:
    return Ranked(proposal_id, proposer or proposal_id * 10, f"p{proposal_id}", votes, _T0 + timedelta(minutes=minutes))


def test_ties_go_to_the_earlier_proposal_then_the_lower_id():
    ranking = rank([_ranked(3, 5, 2), _ranked(1, 5, 3), _ranked(2, 7, 9), _ranked(5, 5, 2), _ranked(4, 0, 0)])
    assert [(p.proposal_id, p.rank) for p in ranking] == [(2, 1), (3, 2), (5, 3), (1, 4), (4, 5)]


def test_proposer_rules_skip_non_members_and_people_already_qualified():
    ranking = rank(
        [
            _ranked(1, 9, 0, proposer=100),
            _ranked(2, 8, 1, proposer=100),  # the winner again: counted once
            _ranked(3, 7, 2, proposer=200),  # left the community
            _ranked(4, 6, 3, proposer=300),
            _ranked(5, 5, 4, proposer=400),
            _ranked(6, 0, 5, proposer=500),  # no votes: never rewarded
        ]
    )
    members = {100, 300, 400, 500}
    assert proposer_awards(ranking, members, True, 2) == [
        (100, "winner", 1),
        (300, "top_proposer", 4),
        (400, "top_proposer", 5),
    ]
    assert proposer_awards(ranking, members, False, 1) == [(100, "top_proposer", 1)]
    assert proposer_awards(ranking, members, True, 9)[-1] == (400, "top_proposer", 5)
    assert proposer_awards(rank([_ranked(1, 0, 0)]), {10}, True, 3) == []


def test_the_same_seed_always_draws_the_same_winners():
    seed = draw.new_seed()
    eligible = list(range(1000, 1100))
    first = draw.draw(seed, 42, eligible, 7)
    assert len(first) == len(set(first)) == 7
    assert draw.draw(seed, 42, list(reversed(eligible)), 7) == first  # order of the list does not matter
    assert draw.draw(seed, 42, eligible + eligible, 7) == first
    assert draw.draw(seed, 42, eligible, 3) == first[:3]  # fewer winners: a prefix
    assert draw.draw(seed, 43, eligible, 7) != first  # another poll, another draw
    assert draw.draw(draw.new_seed(), 42, eligible, 7) != first
    assert draw.draw(seed, 42, [5, 6], 7) == sorted([5, 6], key=lambda u: draw.ticket(seed, 42, u))


def test_a_known_seed_gives_a_known_draw():
    """A fixed vector, so the algorithm cannot change without this test (and docs/polls.md) noticing."""
    seed = "00" * 32
    assert draw.commitment(seed) == hashlib.sha256(seed.encode()).hexdigest()
    expected = sorted(range(1, 11), key=lambda u: hmac.new(bytes(32), f"7:{u}".encode(), hashlib.sha256).digest())
    assert draw.draw(seed, 7, range(1, 11), 3) == expected[:3]


def _recompute(published: dict, commitment: str) -> list[str]:
    """What anybody can do with the published result and the commitment shown since the poll opened:
    an implementation written from docs/polls.md, not the service's code."""
    seed = published["seed"]
    assert hashlib.sha256(seed.encode("ascii")).hexdigest() == commitment
    key = bytes.fromhex(seed)

    def ticket(user_id: str) -> tuple[str, int]:
        message = f"{published['pollId']}:{user_id}".encode("ascii")
        return hmac.new(key, message, hashlib.sha256).hexdigest(), int(user_id)

    return sorted(published["eligibleUserIds"], key=ticket)[: published["count"]]


async def test_the_closed_poll_publishes_a_draw_anyone_can_redo(world):
    carol, dave, erin, frank = world.members
    extra = [await world.member(f"voter{i}") for i in range(6)]
    poll = await world.open_poll(rewards={"winningProposer": True, "topProposers": 1, "drawnVoters": 3, "claimDays": 7})
    poll_id = poll["id"]
    commitment = poll["seedCommitment"]
    a = await world.proposal(carol, poll_id, "晨光")
    b = await world.proposal(dave, poll_id, "山泉")
    await world.advance(poll_id)
    for voter in [erin, frank, *extra]:
        await world.voted(voter, poll_id, a)
    await world.voted(carol, poll_id, b)  # the proposers vote too
    await world.voted(dave, poll_id, a)
    results = await world.close(poll_id)

    published = results["draw"]
    assert published["algorithm"] == "hmac-sha256-rank-v1" and published["seedCommitment"] == commitment
    # Carol won, Dave is the top proposer after her: neither is in the draw.
    qualified = {(q["userId"], q["reason"]) for q in results["qualifications"]}
    assert (str(carol.id), "winner") in qualified and (str(dave.id), "top_proposer") in qualified
    expected_eligible = sorted(str(v.id) for v in [erin, frank, *extra])
    assert sorted(published["eligibleUserIds"], key=int) == sorted(expected_eligible, key=int)
    assert published["count"] == 3 and len(published["winnerUserIds"]) == 3
    assert _recompute(published, commitment) == published["winnerUserIds"]
    drawn = [q["userId"] for q in results["qualifications"] if q["reason"] == "drawn_voter"]
    assert drawn == published["winnerUserIds"]

    # Everyone qualified holds a trial valid for claimDays.
    winner_trials = (await world.client.get("/v1/me/trials", headers=carol.headers)).json()["items"]
    assert [(t["pollId"], t["reason"], t["status"]) for t in winner_trials] == [(poll_id, "winner", "granted")]
    told = (await world.client.get("/v1/me/notifications", headers=carol.headers)).json()["items"]
    assert [(i["kind"], i["subjectId"]) for i in told if i["kind"] == "trial_won"] == [
        ("trial_won", winner_trials[0]["id"])
    ]
    granted_at = datetime.fromisoformat(winner_trials[0]["grantedAt"])
    assert datetime.fromisoformat(winner_trials[0]["expiresAt"]) - granted_at == timedelta(days=7)
    # Everyone who took part hears the result; a member who did not take part does not.
    for who in (carol, dave, erin, *extra):
        told = await notices(world.client, who.headers, "poll_closed")
        assert [(i["subjectId"], i["data"]["winner"]) for i in told] == [(poll_id, "晨光")]
    assert await notices(world.client, world.owner.headers, "poll_closed") == []


async def test_a_tie_in_the_poll_goes_to_the_earlier_proposal(world):
    carol, dave, erin, frank = world.members
    poll = await world.open_poll()
    poll_id = poll["id"]
    earlier = await world.proposal(carol, poll_id, "先来")
    later = await world.proposal(dave, poll_id, "后到")
    await world.advance(poll_id)
    await world.voted(erin, poll_id, later)
    await world.voted(frank, poll_id, earlier)
    results = await world.close(poll_id)
    assert [(r["proposalId"], r["rank"], r["votes"]) for r in results["ranking"]] == [(earlier, 1, 1), (later, 2, 1)]
    assert results["winner"]["proposalId"] == earlier
    assert "earlier proposal" in results["tieBreakRule"]
    proposals = (await world.client.get(f"/v1/polls/{poll_id}/proposals", headers=erin.headers)).json()["items"]
    assert [(p["rank"], p["votes"]) for p in proposals] == [(1, 1), (2, 1)]


async def test_the_record_opens_to_members_at_close(world):
    carol, dave, *_ = world.members
    poll = await world.open_poll()
    poll_id = poll["id"]
    proposal = await world.proposal(carol, poll_id, "晨光")
    await world.advance(poll_id)
    await world.voted(dave, poll_id, proposal)
    assert_problem(await world.client.get(f"/v1/polls/{poll_id}/audit", headers=dave.headers), 409, "poll_not_closed")
    during = (await world.client.get(f"/v1/polls/{poll_id}/audit", headers=world.admin.headers)).json()
    assert [e["action"] for e in during["items"]] == [
        "poll.created",
        "proposal.created",
        "poll.voting_opened",
        "vote.cast",
    ]
    await world.close(poll_id)

    page = (await world.client.get(f"/v1/polls/{poll_id}/audit?limit=2", headers=dave.headers)).json()
    seen = list(page["items"])
    while page["nextCursor"]:
        page = (
            await world.client.get(
                f"/v1/polls/{poll_id}/audit?limit=2&cursor={page['nextCursor']}", headers=dave.headers
            )
        ).json()
        seen += page["items"]
    assert [e["action"] for e in seen][:5] == [
        "poll.created",
        "proposal.created",
        "poll.voting_opened",
        "vote.cast",
        "poll.closed",
    ]
    vote = seen[3]
    assert vote["actorId"] == str(dave.id) and vote["proposalId"] == proposal and vote["voteId"]
    closed = seen[4]
    assert closed["details"]["seed"] == (await world.close(poll_id))["draw"]["seed"]


async def test_the_record_pages_in_order_across_a_longer_id(world):
    # Found by review: the record was ordered by its id as text ("100" before "99"), while its cursor went by number,
    # so a page that crossed to a longer id skipped the entries between.
    carol, dave, erin, _ = world.members
    async with world.db() as conn:
        await conn.execute("SELECT setval(pg_get_serial_sequence('poll_audit', 'id'), 95)")
    poll_id = (await world.open_poll())["id"]
    proposals = [await world.proposal(carol, poll_id, name) for name in ("晨光", "暮色", "星河")]
    await world.advance(poll_id)
    for member in (dave, erin):
        for proposal in proposals:
            await world.voted(member, poll_id, proposal)
    url = f"/v1/polls/{poll_id}/audit?limit=3"
    page = (await world.client.get(url, headers=world.admin.headers)).json()
    seen = list(page["items"])
    while page["nextCursor"]:
        page = (await world.client.get(f"{url}&cursor={page['nextCursor']}", headers=world.admin.headers)).json()
        seen += page["items"]
    ids = [int(e["id"]) for e in seen]
    assert ids[0] < 100 < ids[-1]
    assert ids == sorted(ids) and len(ids) == 11
    assert [e["action"] for e in seen][:5] == ["poll.created", *["proposal.created"] * 3, "poll.voting_opened"]


async def test_the_record_shows_members_no_name_held_for_review_or_hidden(world):
    # Found in review: once the poll closed, every member read in the record (proposal.created) the names WeChat held
    # for review and the admins never showed, and those the admins hid: names the proposal list kept from them.
    carol, dave, erin, _ = world.members
    poll_id = (await world.open_poll())["id"]
    held = await world.propose(erin, poll_id, "sandbox-review 咖啡")
    assert held.status_code == 201 and held.json()["status"] == "pending"
    hidden = await world.proposal(erin, poll_id, "难听的名字")
    shown = await world.proposal(carol, poll_id, "晨光")
    typo = await world.proposal(carol, poll_id, "晨光光")
    url = f"/v1/polls/{poll_id}/proposals"
    hide = await world.client.put(f"{url}/{hidden}", json={"status": "hidden"}, headers=world.admin.headers)
    assert hide.status_code == 200, hide.text
    merged = await world.client.post(f"{url}/{typo}/merge", json={"intoProposalId": shown}, headers=world.admin.headers)
    assert merged.status_code == 200, merged.text
    await world.advance(poll_id)
    await world.voted(dave, poll_id, shown)
    await world.close(poll_id)

    async def record(who) -> dict[str, str | None]:
        page = (await world.client.get(f"/v1/polls/{poll_id}/audit", headers=who.headers)).json()
        return {e["proposalId"]: e["details"].get("name") for e in page["items"] if e["action"] == "proposal.created"}

    held_id = held.json()["id"]
    assert await record(dave) == {held_id: None, hidden: None, shown: "晨光", typo: "晨光光"}
    # Their proposer and the admins read them all, as in the proposal list.
    assert await record(erin) == {held_id: "sandbox-review 咖啡", hidden: "难听的名字", shown: "晨光", typo: "晨光光"}
    assert await record(world.admin) == await record(erin)
