"""Meetup money that must stay with the organiser once the place was used or the meetup happened: a paid place
checked in at the venue is not refunded by giving it up, and a meetup that has started cannot be cancelled
(which refunded every paid place). Over the WeChat Pay sandbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from service.meetups import queries as q
from tests.operating.test_meetups import at, create_meetup, ledger_violations, meetup_of, sign_up
from tests.wechat_support import wait_for_lock_waiters
from tests.world import assert_problem, notices


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob", "carol", "dave")]


async def paid_place(world, member, meetup_id: str) -> dict:
    order = (await sign_up(world, member, meetup_id)).json()["order"]
    await world.pay_order(order)
    return order


async def order_of(world, member, order: dict) -> dict:
    response = await world.api.get(f"/v1/orders/{order['id']}", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_paid_place_checked_in_at_the_venue_is_not_refunded_by_giving_it_up(world, people):
    # Found in review: check-in opens an hour before the start and a paid place could be given up, refunded in
    # full, until the sign-up deadline (by default the start): a member checked in at the venue, then cancelled
    # (or asked checkout for the money back) and got the whole fee back for a place they had used.
    alice, bob, carol, _ = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, feeFen=5000, startsAt=at(minutes=30)))["id"]
    bob_order = await paid_place(world, bob, mid)
    carol_order = await paid_place(world, carol, mid)
    code = (await world.api.get(f"/v1/meetups/{mid}/venue-code", headers=alice.headers)).json()["code"]
    checked_in = await world.api.post(f"/v1/meetups/{mid}/attendance", json={"code": code}, headers=bob.headers)
    assert checked_in.status_code == 201, checked_in.text

    refused = await world.api.delete(f"/v1/meetups/{mid}/signups/me", headers=bob.headers)
    assert_problem(refused, 409, "meetup_attended")
    assert refused.json()["userMessage"] == "你已在现场签到，已付的报名费用不能退回，报名也不能取消。"
    # Checkout's own refund route keeps the same rule: the payer's window closed when they checked in.
    view = await order_of(world, bob, bob_order)
    assert view["refundableUntil"] == checked_in.json()["attendedAt"]
    asked = await world.api.post(f"/v1/orders/{bob_order['id']}/refund", json={}, headers=bob.headers)
    assert_problem(asked, 409, "refund_window_closed")
    await world.run_due_jobs()
    view = await order_of(world, bob, bob_order)
    assert view["status"] == "paid" and view["refundedFen"] == 0 and view["refunds"] == []
    kept = (await meetup_of(world, bob, mid))["mySignup"]
    assert kept["status"] == "confirmed" and kept["attendedAt"] == checked_in.json()["attendedAt"]

    # Carol has not checked in: her place is still given up and refunded in full until the deadline.
    cancelled = await world.api.delete(f"/v1/meetups/{mid}/signups/me", headers=carol.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    await world.run_due_jobs()
    assert (await order_of(world, carol, carol_order))["refundedFen"] == 5000
    assert await world.pool.fetchval("SELECT count(*) FROM refunds") == 1
    assert await ledger_violations(world) == []


async def test_a_payers_refund_racing_the_check_in_is_refused(world, people):
    """The payer asks checkout for the money back while their check-in is being recorded: the window was read
    before the check-in committed, so the refund's own hook (under the sign-up's lock) refuses it."""
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    mid = (await create_meetup(world, alice, cid, feeFen=5000, startsAt=at(minutes=30)))["id"]
    order = await paid_place(world, bob, mid)
    signup_id = await world.pool.fetchval("SELECT id FROM meetup_signups WHERE user_id = $1", bob.id)
    async with world.pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        # As POST /attendance does, under the sign-up's lock: checked in, not committed yet.
        await holder.execute("SELECT 1 FROM meetup_signups WHERE id = $1 FOR UPDATE", signup_id)
        await holder.execute(q.MARK_ATTENDED, signup_id, datetime.now(UTC), "code")
        asking = asyncio.create_task(world.api.post(f"/v1/orders/{order['id']}/refund", json={}, headers=bob.headers))
        await wait_for_lock_waiters(holder, 1)
        await tx.commit()
    assert_problem(await asking, 409, "refund_window_closed")
    await world.run_due_jobs()
    assert (await order_of(world, bob, order))["refunds"] == []
    assert (await meetup_of(world, bob, mid))["mySignup"]["status"] == "confirmed"
    assert await ledger_violations(world) == []


@pytest.mark.parametrize("moment", ["ended", "started"])
async def test_a_meetup_that_has_started_cannot_be_cancelled(world, people, moment):
    # Found in review: an admin could cancel a meetup after it ended (nothing checked the time), and the
    # cancellation refunded every paid place out of the organiser's income after the event had happened.
    alice, bob, carol, dave = people
    cid = await world.community(alice, bob, carol, dave)
    mid = (await create_meetup(world, alice, cid, feeFen=3000))["id"]
    orders = {member.id: await paid_place(world, member, mid) for member in (bob, carol)}
    # Ended three hours after starting, or started ten minutes ago and on for another hour.
    starts, ends = (
        (timedelta(hours=-3), timedelta(hours=-1))
        if moment == "ended"
        else (timedelta(minutes=-10), timedelta(hours=1))
    )
    await world.pool.execute(
        "UPDATE meetups SET signup_deadline = now() + $2, starts_at = now() + $2, ends_at = now() + $3 WHERE id = $1",
        int(mid),
        starts,
        ends,
    )

    for body in ({}, {"reason": "下雨"}):
        refused = await world.api.post(f"/v1/meetups/{mid}/cancel", json=body, headers=alice.headers)
        assert_problem(refused, 409, "meetup_started")
        assert refused.json()["userMessage"] == "活动已开始，不能再取消。"
    await world.run_due_jobs()
    meetup = await meetup_of(world, alice, mid)
    assert meetup["status"] == "open" and meetup["seatsTaken"] == 2
    for member in (bob, carol):
        order = await order_of(world, member, orders[member.id])
        assert order["status"] == "paid" and order["refunds"] == []
        assert (await meetup_of(world, member, mid))["mySignup"]["status"] == "confirmed"
        assert await notices(world.api, member.headers, "meetup_cancelled") == []
    assert await world.pool.fetchval("SELECT count(*) FROM refunds") == 0
    assert await ledger_violations(world) == []


async def test_a_meetup_cancelled_before_the_start_is_still_answered_and_refunded_after_it(world, people):
    """Cancelling again is a retry: after the start it answers the cancelled meetup and its refunds go on."""
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    mid = (await create_meetup(world, alice, cid, feeFen=3000))["id"]
    order = await paid_place(world, bob, mid)
    first = await world.api.post(f"/v1/meetups/{mid}/cancel", json={"reason": "暴雨"}, headers=alice.headers)
    assert first.status_code == 200 and first.json()["status"] == "cancelled", first.text
    await world.pool.execute(
        "UPDATE meetups SET signup_deadline = now() - interval '3 hours', starts_at = now() - interval '3 hours', "
        "ends_at = now() - interval '1 hour' WHERE id = $1",
        int(mid),
    )
    again = await world.api.post(f"/v1/meetups/{mid}/cancel", json={"reason": "暴雨"}, headers=alice.headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled", again.text
    await world.run_due_jobs()
    assert (await order_of(world, bob, order))["status"] == "refunded"
    assert await ledger_violations(world) == []


async def test_a_place_held_until_after_the_end_cannot_be_paid_any_more(world, people):
    """A place held for payment (here a 15-minute online meetup signed up for just before the start) that is paid
    after the meetup ended buys nothing: the payment is refused and refunded in full (no cancellation nor refund
    window is left to get it back otherwise), and signing up again hands out no order for it."""
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    mid = (await create_meetup(world, alice, cid, mode="online", place="", feeFen=3000))["id"]
    order = (await sign_up(world, bob, mid)).json()["order"]
    await world.pool.execute(
        "UPDATE meetups SET signup_deadline = now() - interval '14 minutes', "
        "starts_at = now() - interval '14 minutes', ends_at = now() - interval '1 minute' WHERE id = $1",
        int(mid),
    )
    assert (await meetup_of(world, bob, mid))["mySignup"]["status"] == "pending_payment"  # the hold still runs
    assert_problem(await sign_up(world, bob, mid), 409, "signup_closed")

    await world.pay_order(order)
    await world.run_due_jobs()
    assert (await order_of(world, bob, order))["status"] == "refunded"
    assert await world.payer_reads(order) == ["该报名已失效，报名费用原路退回"]
    mine = (await meetup_of(world, bob, mid))["mySignup"]
    assert mine["status"] != "confirmed", mine
    assert await ledger_violations(world) == []
