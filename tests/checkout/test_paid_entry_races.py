"""Paid entry beside the other ways in: a payment for a membership already held is refunded in full (checkout's
`already_member` refusal, docs/checkout.md), and an approval racing the payment admits the member once."""

from __future__ import annotations

import asyncio

from tests.checkout.test_paid_entry import count, join, membership, paid_community, run_refund_jobs


async def _entry_mode(world, owner: dict, cid: str, **fields) -> None:
    changed = await world.api.put(f"/v1/communities/{cid}", json=fields, headers=owner)
    assert changed.status_code == 200, changed.text


async def test_a_payment_for_a_membership_an_invite_gave_is_refunded_in_full(world):
    """The member ordered while the community was paid, came in by invite while it took invites for free, and
    paid the old order once it was paid again: no second membership, and the money goes back."""
    _, owner = await world.user()
    member_id, member = await world.user()
    cid = (await paid_community(world, owner))["id"]
    order = (await join(world, member, cid))["order"]
    await _entry_mode(world, owner, cid, entryMode="approval")
    code = (await world.api.post(f"/v1/communities/{cid}/invites", json={}, headers=owner)).json()["code"]
    assert (await join(world, member, cid, inviteCode=code))["outcome"] == "joined"
    await _entry_mode(world, owner, cid, entryMode="paid", priceFen=990)

    assert (await world.pay_order(order))["deliveredStatus"] == 204
    got = await world.get_order(order["id"], member)
    assert got["refunds"][0]["amountFen"] == 990 and got["refunds"][0]["reason"].startswith("already_member")
    await run_refund_jobs(world)
    assert (await world.wait_for(order["id"], member, "refunded"))["refunds"][0]["status"] == "succeeded"
    assert (await membership(world, member, cid))["status"] == "active"
    via = "SELECT via FROM memberships WHERE community_id = $1 AND user_id = $2"
    assert await count(world, via, int(cid), member_id) == "invite"
    assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 2
    joined = "SELECT count(*) FROM community_audit_log WHERE action = 'member.joined' AND subject_id = $1"
    assert await count(world, joined, member_id) == 1
    assert await world.ledger_violations() == []


async def test_an_approval_and_the_payment_at_once_admit_once_and_keep_money_only_for_the_seat(world):
    """A request asked while the community took requests, approved at the instant the member's entry payment
    arrives: whichever goes first admits; the payment that finds a member is refunded in full, the approval that
    finds a member (its request cancelled by the paid admission) is refused; never two memberships."""
    for _ in range(3):
        _, owner = await world.user()
        member_id, member = await world.user()
        cid = (await paid_community(world, owner, entryMode="approval", priceFen=None))["id"]
        request_id = (await join(world, member, cid, expect=202))["request"]["id"]
        await _entry_mode(world, owner, cid, entryMode="paid", priceFen=990)
        order = (await join(world, member, cid))["order"]

        approve = world.api.post(f"/v1/communities/{cid}/join-requests/{request_id}/approve", headers=owner)
        approved, paid = await asyncio.gather(approve, world.pay_order(order))
        assert paid["deliveredStatus"] == 204
        got = await world.get_order(order["id"], member)
        if approved.status_code == 200:  # the approval first: the payment bought nothing
            assert got["status"] in ("paid", "refunding", "refunded")
            assert [(r["amountFen"], r["reason"].split(":")[0]) for r in got["refunds"]] == [(990, "already_member")]
        else:  # the payment first: it admitted, and the approval found the request settled
            assert (approved.status_code, approved.json()["code"]) == (409, "request_not_pending")
            assert got["status"] == "paid" and got["refunds"] == []
        assert (await membership(world, member, cid))["status"] == "active"
        assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 2
        joined = "SELECT count(*) FROM community_audit_log WHERE action = 'member.joined' AND subject_id = $1"
        assert await count(world, joined, member_id) == 1
    await run_refund_jobs(world)
    assert await world.ledger_violations() == []
