"""Who may pull whom into a group collection, and the answer a retried share payment gets: a muted member starts
none, a member who blocked the initiator is not asked, and a retry of a payment that went through replays it."""

from __future__ import annotations

from tests.checkout.test_collections import community_with, read, shares, start
from tests.world import assert_problem, notices


async def test_a_member_an_admin_muted_starts_no_collection(world):
    """The title reaches every participant's inbox: speech to others, which an admin's mute (禁言) stops, as it stops
    posts and invite links. Refused before WeChat is asked about the title."""
    cid, people = await community_with(world, 2)
    (_, owner), (a_id, a), (_, b) = people
    muted = await world.api.put(f"/v1/communities/{cid}/members/{a_id}", json={"muteMinutes": 60}, headers=owner)
    assert muted.status_code == 200, muted.text
    checks = (await world.control.get("/sandbox/stats")).json()["msg_sec_check"]
    refused = await world.api.post(
        f"/v1/communities/{cid}/collections", json={"title": "周六烧烤 AA", "amountFen": 4500}, headers=a
    )
    assert_problem(refused, 403, "member_muted")
    assert (await world.control.get("/sandbox/stats")).json()["msg_sec_check"] == checks
    assert await world.pool.fetchval("SELECT count(*) FROM collections WHERE community_id = $1", int(cid)) == 0
    assert await notices(world.api, b, "collection_asked") == []

    unmuted = await world.api.put(f"/v1/communities/{cid}/members/{a_id}", json={"muteMinutes": 0}, headers=owner)
    assert unmuted.status_code == 200, unmuted.text
    await start(world, cid, a)
    assert len(await notices(world.api, b, "collection_asked")) == 1


async def test_a_member_who_blocked_the_initiator_is_not_pulled_into_their_collection(world):
    """Named, the blocker is refused as a mention of them is (403 `blocked`, nothing written); with no list, the
    collection asks every other member but them (docs/safety.md). The one who blocked may still collect from the
    member they blocked: a block is one-directional."""
    cid, people = await community_with(world, 3)
    (owner_id, owner), (a_id, a), (b_id, b), (c_id, c) = people
    blocked = await world.api.post("/v1/me/blocks", json={"userId": str(a_id)}, headers=b)
    assert blocked.status_code == 200, blocked.text

    named = await world.api.post(
        f"/v1/communities/{cid}/collections",
        json={"title": "周六烧烤 AA", "amountFen": 4500, "participantIds": [str(b_id), str(c_id)]},
        headers=a,
    )
    assert_problem(named, 403, "blocked")
    assert await world.pool.fetchval("SELECT count(*) FROM collections WHERE community_id = $1", int(cid)) == 0

    everyone = await start(world, cid, a)
    assert set(shares(everyone)) == {str(owner_id), str(c_id)}
    assert everyone["participantCount"] == 2
    assert await notices(world.api, b, "collection_asked") == []
    assert_problem(await world.api.post(f"/v1/collections/{everyone['id']}/pay", headers=b), 403, "not_participant")

    theirs = await start(world, cid, b, participantIds=[str(a_id)])
    assert set(shares(theirs)) == {str(a_id)}


async def test_a_retried_payment_of_a_share_replays_the_first_answer(world):
    """The first answer (the order) was lost, the share was paid meanwhile: the retry with the same Idempotency-Key
    answered 409 share_already_paid for the request that succeeded. It now replays the first answer; a new request
    (no key, or another) is still refused."""
    cid, people = await community_with(world, 2)
    _, (_, a), (_, b) = people
    collection_id = (await start(world, cid, a))["id"]
    url = f"/v1/collections/{collection_id}/pay"
    keyed = {**b, "Idempotency-Key": "pay-once"}
    first = await world.api.post(url, headers=keyed)
    assert first.status_code == 201, first.text
    await world.pay_order(first.json())
    assert (await read(world, collection_id, b))["myShare"]["status"] == "paid"

    again = await world.api.post(url, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert_problem(await world.api.post(url, headers=b), 409, "share_already_paid")
    assert_problem(await world.api.post(url, headers={**b, "Idempotency-Key": "pay-twice"}), 409, "share_already_paid")
    # The key names this payment: used for another collection it is refused, not replayed.
    other_id = (await start(world, cid, a, title="周日火锅 AA"))["id"]
    reused = await world.api.post(f"/v1/collections/{other_id}/pay", headers=keyed)
    assert_problem(reused, 422, "idempotency_key_reused")


async def test_a_brand_admin_who_has_not_joined_starts_no_collection(world):
    """The brand's team stands as admins in the brand's communities without joining (docs/brands.md), but only an
    initiator who is an active member is paid: a collection a team member who had not joined started asked every
    member to pay, answered each of them `initiator_left` and was cancelled at its deadline. Refused at the start
    now (`not_member`, join first), before WeChat is asked about the title; once joined, they collect as any member."""
    cid, people = await community_with(world, 1)
    (_, owner), (_, member) = people
    helper_id, helper = await world.user()
    brand = await world.api.post("/v1/brands", json={"name": "山野跑团"}, headers=owner)
    assert brand.status_code == 201, brand.text
    brand_id = brand.json()["id"]
    attached = await world.api.post(f"/v1/brands/{brand_id}/communities", json={"communityId": cid}, headers=owner)
    assert attached.status_code == 200, attached.text
    added = await world.api.put(f"/v1/brands/{brand_id}/admins/{helper_id}", headers=owner)
    assert added.status_code == 200, added.text

    checks = (await world.control.get("/sandbox/stats")).json()["msg_sec_check"]
    refused = await world.api.post(
        f"/v1/communities/{cid}/collections", json={"title": "周六烧烤 AA", "amountFen": 4500}, headers=helper
    )
    assert_problem(refused, 403, "not_member")
    assert (await world.control.get("/sandbox/stats")).json()["msg_sec_check"] == checks
    assert await world.pool.fetchval("SELECT count(*) FROM collections WHERE community_id = $1", int(cid)) == 0
    assert await notices(world.api, member, "collection_asked") == []

    joined = await world.api.post(f"/v1/communities/{cid}/join", headers=helper)
    assert joined.status_code == 201, joined.text
    collection = await start(world, cid, helper)
    assert collection["initiatorActive"] is True
    assert len(await notices(world.api, member, "collection_asked")) == 1
