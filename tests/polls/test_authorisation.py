"""Cross-community authorisation: nobody reaches a poll, proposal or trial through another community."""

from __future__ import annotations

from tests.polls.conftest import sign_in
from tests.world import assert_problem


async def test_outsiders_and_other_communities_admins_reach_nothing(world):
    carol, dave, *_ = world.members
    poll = await world.open_poll(rewards={"winningProposer": True})
    poll_id = poll["id"]
    proposal = await world.proposal(carol, poll_id, "晨光")
    await world.advance(poll_id)
    await world.voted(dave, poll_id, proposal)
    await world.close(poll_id)
    (trial,) = (await world.client.get("/v1/me/trials", headers=carol.headers)).json()["items"]
    await world.client.post(f"/v1/trials/{trial['id']}/claim", json={"deliveryNote": "地址"}, headers=carol.headers)

    # Mallory owns another community: an admin there, nobody here.
    mallory = await sign_in(world.client, world.sandbox, "mallory")
    other = await world.client.post("/v1/communities", json={"name": "别的社群"}, headers=mallory.headers)
    assert other.status_code == 201
    c = world.client
    h = mallory.headers
    refused = [
        await c.get(f"/v1/communities/{world.community_id}/polls", headers=h),
        await c.post(
            f"/v1/communities/{world.community_id}/polls",
            json={"title": "x", "proposalsCloseAt": poll["proposalsCloseAt"], "votingCloseAt": poll["votingCloseAt"]},
            headers=h,
        ),
        await c.get(f"/v1/polls/{poll_id}", headers=h),
        await c.get(f"/v1/polls/{poll_id}/proposals", headers=h),
        await c.get(f"/v1/polls/{poll_id}/results", headers=h),
        await c.get(f"/v1/polls/{poll_id}/audit", headers=h),
        await c.get(f"/v1/polls/{poll_id}/trials", headers=h),
        await c.get(f"/v1/polls/{poll_id}/feedback", headers=h),
        await c.post(f"/v1/polls/{poll_id}/advance", headers=h),
        await c.post(f"/v1/polls/{poll_id}/close", headers=h),
        await c.post(f"/v1/trials/{trial['id']}/ship", headers=h),
    ]
    for answer in refused:
        assert_problem(answer, 403, "not_member")

    # The same, on a poll that is still open.
    open_poll = await world.open_poll()
    target = await world.proposal(carol, open_poll["id"], "山泉")
    assert_problem(await world.propose(mallory, open_poll["id"], "偷偷"), 403, "not_member")
    moderate = await c.put(f"/v1/polls/{open_poll['id']}/proposals/{target}", json={"status": "hidden"}, headers=h)
    assert_problem(moderate, 403, "not_member")
    await world.advance(open_poll["id"])
    assert_problem(await world.vote(mallory, open_poll["id"], target), 403, "not_member")
    votes = await c.put(f"/v1/polls/{open_poll['id']}/votes", json={"proposalIds": [target]}, headers=h)
    assert_problem(votes, 403, "not_member")

    # Mallory's own poll does not open doors here either.
    theirs = await world.open_poll(by=mallory, community_id=other.json()["id"])
    assert_problem(await c.get(f"/v1/polls/{theirs['id']}", headers=carol.headers), 403, "not_member")


async def test_ids_from_another_poll_are_not_found(world):
    carol, dave, *_ = world.members
    first = await world.open_poll()
    second = await world.open_poll()
    here = await world.proposal(carol, first["id"], "晨光")
    elsewhere = await world.proposal(carol, second["id"], "山泉")
    await world.advance(first["id"])
    assert_problem(await world.vote(dave, first["id"], elsewhere), 404, "not_found")
    merge = await world.client.post(
        f"/v1/polls/{first['id']}/proposals/{here}/merge",
        json={"intoProposalId": elsewhere},
        headers=world.admin.headers,
    )
    assert_problem(merge, 404, "not_found")
    hide = await world.client.put(
        f"/v1/polls/{first['id']}/proposals/{elsewhere}", json={"status": "hidden"}, headers=world.admin.headers
    )
    assert_problem(hide, 404, "not_found")
    assert_problem(await world.client.get("/v1/polls/999999", headers=dave.headers), 404, "not_found")
    assert_problem(
        await world.client.post("/v1/trials/999999/claim", json={"deliveryNote": "x"}, headers=dave.headers),
        404,
        "not_found",
    )
    assert_problem(await world.client.get(f"/v1/polls/{first['id']}"), 401, "unauthorized")


async def test_a_member_who_left_can_no_longer_vote(world):
    carol, dave, *_ = world.members
    poll = await world.open_poll()
    proposal = await world.proposal(carol, poll["id"], "晨光")
    await world.advance(poll["id"])
    left = await world.client.delete(f"/v1/communities/{world.community_id}/members/me", headers=dave.headers)
    assert left.status_code == 204, left.text
    assert_problem(await world.vote(dave, poll["id"], proposal), 403, "not_member")
