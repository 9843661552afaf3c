"""Phases: proposing -> voting -> closed at the deadlines (the job worker) or by hand; late actions refused."""

from __future__ import annotations

import asyncio

from service.polls import closing
from tests.polls.conftest import poll_body
from tests.world import assert_problem


async def test_a_poll_runs_through_its_phases_on_the_deadline_jobs(world):
    carol, dave, erin, _ = world.members
    poll = await world.open_poll(votesPerMember=2, rewards={"drawnVoters": 1, "product": "冷萃 6 瓶"})
    poll_id = poll["id"]
    assert poll["status"] == "proposing" and poll["acceptingProposals"] and not poll["acceptingVotes"]
    assert len(poll["seedCommitment"]) == 64
    assert poll["announcementPostId"] is not None and poll["resultPostId"] is None

    async with world.db() as conn:
        post = await conn.fetchrow("SELECT * FROM posts WHERE id = $1", int(poll["announcementPostId"]))
        jobs = await conn.fetch("SELECT dedupe_key, run_at FROM jobs WHERE kind = 'polls.advance' ORDER BY run_at")
    assert (post["robot"], post["kind"], post["author_id"]) == ("poll", "poll", None)
    assert "新款冷萃咖啡" in post["text"]
    assert [j["dedupe_key"] for j in jobs] == [f"poll:{poll_id}:voting", f"poll:{poll_id}:close"]

    first = await world.proposal(carol, poll_id, "晨光冷萃")
    second = await world.proposal(dave, poll_id, "山泉慢萃")
    assert await world.run_jobs() == 0  # nothing is due yet

    await world.pass_deadline(poll_id, "proposals")
    assert await world.run_jobs() == 1
    voting = await world.poll(poll_id)
    assert voting["status"] == "voting" and voting["votingOpenedAt"] and voting["acceptingVotes"]
    assert_problem(await world.propose(erin, poll_id, "太迟了"), 409, "poll_not_accepting_proposals")

    await world.voted(erin, poll_id, first)
    await world.voted(dave, poll_id, first)
    await world.voted(carol, poll_id, second)

    await world.pass_deadline(poll_id, "voting")
    assert await world.run_jobs() == 1
    closed = await world.poll(poll_id)
    assert closed["status"] == "closed" and closed["closedAt"] and closed["resultPostId"]
    assert_problem(await world.vote(carol, poll_id, first), 409, "poll_not_accepting_votes")

    results = (await world.client.get(f"/v1/polls/{poll_id}/results", headers=carol.headers)).json()
    assert results["winner"]["name"] == "晨光冷萃" and results["winner"]["votes"] == 2
    assert [r["proposalId"] for r in results["ranking"]] == [first, second]
    assert results["totalVotes"] == 3 and results["voterCount"] == 3
    async with world.db() as conn:
        result_post = await conn.fetchrow("SELECT * FROM posts WHERE id = $1", int(closed["resultPostId"]))
    assert result_post["robot"] == "poll" and "晨光冷萃" in result_post["text"]

    # Idempotent: the job again (a worker that died after the work), or twice at once, changes nothing.
    async with world.db() as conn:
        before = await conn.fetchval("SELECT count(*) FROM poll_audit WHERE poll_id = $1", int(poll_id))
        assert await closing.advance_due(conn, int(poll_id)) == "closed"
        assert await conn.fetchval("SELECT count(*) FROM poll_audit WHERE poll_id = $1", int(poll_id)) == before
        assert await conn.fetchval("SELECT count(*) FROM poll_posts WHERE poll_id = $1", int(poll_id)) == 2
        assert await conn.fetchval("SELECT count(*) FROM trial_qualifications WHERE poll_id = $1", int(poll_id)) == 2
    again = (await world.client.get(f"/v1/polls/{poll_id}/results", headers=carol.headers)).json()
    assert again == results


async def test_a_late_job_moves_through_both_deadlines_at_once(world):
    poll = await world.open_poll()
    await world.proposal(world.members[0], poll["id"], "晨光")
    await world.pass_deadline(poll["id"], "voting")
    async with world.db() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() WHERE kind = 'polls.advance'")
    await world.run_jobs()
    closed = await world.poll(poll["id"])
    assert closed["status"] == "closed" and closed["votingOpenedAt"] is not None
    async with world.db() as conn:
        actions = [r["action"] for r in await conn.fetch("SELECT action FROM poll_audit ORDER BY id")]
    assert actions[-2:] == ["poll.voting_opened", "poll.closed"]


async def test_admins_advance_the_phases_by_hand(world):
    carol = world.members[0]
    poll = await world.open_poll()
    poll_id = poll["id"]
    proposal = await world.proposal(carol, poll_id, "晨光")

    refused = await world.advance(poll_id, by=carol)
    assert_problem(refused, 403, "forbidden")
    assert_problem(await world.client.post(f"/v1/polls/{poll_id}/close", headers=carol.headers), 403, "forbidden")

    voting = await world.advance(poll_id, by=world.admin)
    assert voting.status_code == 200 and voting.json()["status"] == "voting"
    await world.voted(carol, poll_id, proposal)
    closed = await world.advance(poll_id)
    assert closed.json()["status"] == "closed"
    assert_problem(await world.advance(poll_id), 409, "poll_closed")

    # The deadline jobs that were queued find nothing to do.
    async with world.db() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() WHERE kind = 'polls.advance'")
    assert await world.run_jobs() == 2
    assert (await world.poll(poll_id))["status"] == "closed"
    # Closing again answers the same final results.
    results = (await world.client.get(f"/v1/polls/{poll_id}/results", headers=carol.headers)).json()
    assert await world.close(poll_id) == results


async def test_a_retried_advance_answers_the_first_and_does_not_close_the_poll_it_opened(world):
    # Found in review: `advance` moves the poll one phase on per call and took no Idempotency-Key, so an admin's retry
    # (the answer lost on a phone's network, a double tap) of "open voting now" closed the poll it had just opened,
    # for good, with no vote cast. A retry with the same key now answers the first call's poll.
    poll_id = (await world.open_poll())["id"]
    url = f"/v1/polls/{poll_id}/advance"
    tapped = {**world.admin.headers, "Idempotency-Key": "open-voting-7f3a"}
    first, again = await asyncio.gather(*(world.client.post(url, headers=tapped) for _ in range(2)))
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["status"] == again.json()["status"] == "voting"
    assert (await world.poll(poll_id))["status"] == "voting"
    late = await world.client.post(url, headers=tapped)
    assert late.headers["Idempotent-Replayed"] == "true" and late.json()["status"] == "voting"
    # Another key (another intent) moves it on, and the key of one poll is not the key of another.
    closed = await world.client.post(url, headers={**world.admin.headers, "Idempotency-Key": "close-now-9c1e"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    other = (await world.open_poll())["id"]
    assert_problem(await world.client.post(f"/v1/polls/{other}/advance", headers=tapped), 422, "idempotency_key_reused")


async def test_closing_straight_from_the_proposal_phase(world):
    poll = await world.open_poll()
    await world.proposal(world.members[0], poll["id"], "晨光")
    results = await world.close(poll["id"])
    assert results["winner"] is None and results["totalVotes"] == 0
    assert results["ranking"][0]["votes"] == 0 and results["qualifications"] == []


async def test_late_and_early_actions_get_clear_codes(world):
    carol, dave, *_ = world.members
    poll = await world.open_poll()
    poll_id = poll["id"]
    proposal = await world.proposal(carol, poll_id, "晨光")
    early = assert_problem(await world.vote(dave, poll_id, proposal), 409, "poll_not_accepting_votes")
    assert "voting opens" in early["detail"]

    # The deadline passed but no job ran yet: the clock decides, not the stored phase.
    await world.pass_deadline(poll_id, "proposals")
    late = assert_problem(await world.propose(dave, poll_id, "迟到"), 409, "poll_not_accepting_proposals")
    assert "deadline passed" in late["detail"]
    assert (await world.poll(poll_id))["acceptingProposals"] is False

    await world.advance(poll_id)
    await world.voted(dave, poll_id, proposal)
    await world.pass_deadline(poll_id, "voting")
    assert_problem(await world.vote(carol, poll_id, proposal), 409, "poll_not_accepting_votes")
    withdraw = await world.client.delete(f"/v1/polls/{poll_id}/votes/{proposal}", headers=dave.headers)
    assert_problem(withdraw, 409, "poll_not_accepting_votes")
    # Results are not published before the poll is closed.
    results = await world.client.get(f"/v1/polls/{poll_id}/results", headers=dave.headers)
    assert_problem(results, 409, "poll_not_closed")


async def test_poll_schedule_is_validated(world):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    cases = [
        ({"proposalsCloseAt": (now - timedelta(minutes=1)).isoformat()}, "proposalsCloseAt"),
        ({"votingCloseAt": (now + timedelta(minutes=30)).isoformat()}, "votingCloseAt"),
        ({"votingCloseAt": (now + timedelta(days=200)).isoformat()}, "votingCloseAt"),
        ({"proposalsCloseAt": "2030-01-01T00:00:00"}, "proposalsCloseAt"),  # no time zone
        ({"votesPerMember": 0}, "votesPerMember"),
        ({"rewards": {"drawnVoters": 501}}, "rewards.drawnVoters"),
        ({"imageIds": ["https://cdn.example.com/a.jpg"]}, "imageIds[0]"),
        ({"imageIds": [str(n) for n in range(1, 11)]}, "imageIds"),
        # Image URLs are no longer taken, from any host: the field is refused by name.
        ({"imageUrls": ["https://cdn.example.com/a.jpg"]}, "imageUrls"),
    ]
    for fields, field in cases:
        body = {
            "title": "t",
            "proposalsCloseAt": (now + timedelta(hours=1)).isoformat(),
            "votingCloseAt": (now + timedelta(hours=2)).isoformat(),
            **fields,
        }
        response = await world.client.post(
            f"/v1/communities/{world.community_id}/polls", json=body, headers=world.owner.headers
        )
        problem = assert_problem(response, 400, "validation_failed")
        assert any(field in error["field"] for error in problem["errors"]), (field, problem)
    member_try = await world.client.post(
        f"/v1/communities/{world.community_id}/polls",
        json={"title": "t", "proposalsCloseAt": now.isoformat(), "votingCloseAt": now.isoformat()},
        headers=world.members[0].headers,
    )
    assert member_try.status_code in (400, 403)


async def test_a_polls_texts_pass_wechats_content_check(world):
    """Title, description and the reward's product show to every member (and in the robot's announcement):
    WeChat must pass them before the poll opens; a risky one or WeChat down opens nothing."""
    url = f"/v1/communities/{world.community_id}/polls"
    base = poll_body()

    async def counts() -> tuple[int, int]:
        async with world.db() as conn:
            polls = await conn.fetchval("SELECT count(*) FROM polls")
            return polls, await conn.fetchval(
                "SELECT count(*) FROM posts WHERE community_id = $1", int(world.community_id)
            )

    before = await counts()
    for risky in (
        {"title": "sandbox-risky 咖啡"},
        {"description": "来 sandbox-risky 一起"},
        {"rewards": {"product": "赌博套装"}},
    ):
        response = await world.client.post(url, json={**base, **risky}, headers=world.owner.headers)
        assert_problem(response, 422, "content_rejected")
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    try:
        down = await world.client.post(url, json=base, headers=world.owner.headers)
        assert_problem(down, 503, "wechat_unavailable")
    finally:
        await world.sandbox.control("DELETE", "/sandbox/faults")
    assert await counts() == before
    opened = await world.open_poll(description="帮新品起个名字")
    assert opened["title"] == "新款冷萃咖啡"


async def test_a_retried_poll_answers_the_first_even_with_wechat_down(world):
    """A retry of a poll that opened (its answer lost) gets that answer, not a second content check that WeChat,
    down by then, would answer 503 while the poll is open."""
    url = f"/v1/communities/{world.community_id}/polls"
    body = poll_body()
    headers = {**world.owner.headers, "Idempotency-Key": "poll-wechat-down"}
    first = await world.client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    checks = (await world.sandbox.stats())["msg_sec_check"]
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    try:
        again = await world.client.post(url, json=body, headers=headers)
    finally:
        await world.sandbox.control("DELETE", "/sandbox/faults")
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    assert (await world.sandbox.stats())["msg_sec_check"] == checks


async def test_simultaneous_closes_publish_one_result(world):
    import asyncio

    carol, dave, *_ = world.members
    poll = await world.open_poll(rewards={"drawnVoters": 1})
    proposal = await world.proposal(carol, poll["id"], "晨光")
    await world.advance(poll["id"])
    await world.voted(dave, poll["id"], proposal)
    await world.pass_deadline(poll["id"], "voting")
    closes = [
        world.client.post(f"/v1/polls/{poll['id']}/close", headers=who.headers) for who in (world.owner, world.admin)
    ]
    answers = await asyncio.gather(*closes, *closes, world.run_jobs())
    bodies = [a.json() for a in answers[:-1]]
    assert all(a.status_code == 200 for a in answers[:-1]) and all(b == bodies[0] for b in bodies)
    async with world.db() as conn:
        assert await conn.fetchval("SELECT count(*) FROM poll_posts WHERE purpose = 'result'") == 1
        assert await conn.fetchval("SELECT count(*) FROM poll_audit WHERE action = 'poll.closed'") == 1
        assert await conn.fetchval("SELECT count(*) FROM trial_qualifications") == 2


async def test_two_admins_advancing_at_once_move_the_poll_one_phase_only(world):
    # Found in review: two admins pressing "open voting" at once: the second waited on the poll's row lock, then found
    # it voting and closed it, for good and with no vote cast (an Idempotency-Key covers one client's retries only).
    # Each names the phase it means to leave (`fromStatus`): one moves the poll on, the other is told it moved.
    poll_id = (await world.open_poll())["id"]
    url = f"/v1/polls/{poll_id}/advance"
    leave = {"fromStatus": "proposing"}
    answers = await asyncio.gather(
        *(world.client.post(url, json=leave, headers=who.headers) for who in (world.owner, world.admin))
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    moved = next(a for a in answers if a.status_code == 200)
    assert moved.json()["status"] == "voting"
    assert_problem(next(a for a in answers if a.status_code == 409), 409, "poll_phase_changed")
    assert (await world.poll(poll_id))["status"] == "voting"

    # Named right, it moves on; a stale name changes nothing, even on a closed poll.
    assert_problem(await world.client.post(url, json=leave, headers=world.admin.headers), 409, "poll_phase_changed")
    closed = await world.client.post(url, json={"fromStatus": "voting"}, headers=world.admin.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    stale = await world.client.post(url, json={"fromStatus": "voting"}, headers=world.owner.headers)
    assert_problem(stale, 409, "poll_phase_changed")
    assert_problem(
        await world.client.post(url, json={"fromStatus": "closed"}, headers=world.owner.headers),
        400,
        "validation_failed",
    )
