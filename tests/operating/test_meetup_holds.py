"""Meetup places that must not stay taken: a hold whose order was replaced while it was being released, the
places of members who left the community or were removed, and sign-ups refused for an Idempotency-Key that
paid for something else."""

from __future__ import annotations

import asyncio

import pytest

from service.core import money as core_money
from service.meetups import queries as q
from service.meetups import signups
from tests.operating.test_meetups import at, create_meetup, ledger_violations, meetup_of, sign_up
from tests.wechat_support import wait_for_lock_waiters
from tests.world import assert_problem


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob", "carol", "dave", "erin")]


async def test_a_hold_given_a_new_order_while_it_is_released_is_released_when_that_order_lapses(
    world, people, monkeypatch
):
    """The member taps "pay" again while meetups.release_hold is closing the lapsed order at WeChat: sign_up places
    a new order and extends the hold, and the release (which then sees another order) goes again for the new hold,
    so the place passes to the waitlist once the new order lapses unpaid too."""
    alice, bob, carol, *_ = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, capacity=1, feeFen=2000))["id"]
    first = (await sign_up(world, bob, mid)).json()["order"]
    assert (await sign_up(world, carol, mid)).json()["signup"]["status"] == "waitlisted"
    signup_id = await world.pool.fetchval("SELECT id FROM meetup_signups WHERE user_id = $1", bob.id)
    # Bob's hold lapses unpaid; the release job becomes due.
    await world.pool.execute(
        "UPDATE meetup_signups SET hold_until = now() - interval '1 second' WHERE id = $1", signup_id
    )
    await world.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'meetups.release_hold' AND status = 'queued'")
    real_close = core_money.close_order
    second: dict = {}

    async def close_then_bob_taps_again(pool, pay, order_id):
        status = await real_close(pool, pay, order_id)
        again = await sign_up(world, bob, mid)  # while the job is between its WeChat call and its transaction
        second.update(again.json()["order"] or {})
        return status

    monkeypatch.setattr(signups.checkout, "close_order", close_then_bob_taps_again)
    assert await world.worker.run_once() >= 1
    monkeypatch.setattr(signups.checkout, "close_order", real_close)
    assert second and second["id"] != first["id"]
    assert (await meetup_of(world, bob, mid))["mySignup"]["status"] == "pending_payment"

    # Bob never pays the new order either: it expires, and its hold with it.
    await world.pool.execute(
        "UPDATE orders SET time_expire = now() - interval '1 second' WHERE id = $1", int(second["id"])
    )
    await world.pool.execute(
        "UPDATE meetup_signups SET hold_until = now() - interval '1 second' WHERE id = $1", signup_id
    )
    await world.run_due_jobs()
    bob_view = (await meetup_of(world, bob, mid))["mySignup"]
    carol_view = (await meetup_of(world, carol, mid))["mySignup"]
    assert (bob_view["status"], bob_view["cancelReason"]) == ("cancelled", "hold_expired"), bob_view
    assert carol_view["status"] == "pending_payment", carol_view


async def test_a_removed_members_place_goes_to_the_waitlist_and_they_get_no_reminder(world, people):
    """Removing a member ends their meetup place (they can no longer reach it to cancel: not_found): the job
    meetups.reminders first passes it to the first waitlisted member, and sends the removed member nothing."""
    alice, bob, carol, *_ = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, capacity=1, startsAt=at(minutes=90)))["id"]
    assert (await sign_up(world, bob, mid)).json()["signup"]["status"] == "confirmed"
    assert (await sign_up(world, carol, mid)).json()["signup"]["status"] == "waitlisted"
    await world.consent(bob, world.settings.meetups_reminder_template_id, count=5)
    removed = await world.api.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    assert removed.status_code in (200, 204), removed.text
    gone = await world.api.delete(f"/v1/meetups/{mid}/signups/me", headers=bob.headers)
    assert gone.status_code == 404  # bob cannot give the place up himself any more
    lead = float(world.settings.meetups_reminder_lead)
    due = {r["id"] for r in await world.pool.fetch(q.DUE_REMINDERS, lead, 200)}
    assert await world.pool.fetchval("SELECT id FROM meetup_signups WHERE user_id = $1", bob.id) not in due
    await world.run_job("meetups.reminders")
    assert await world.subscribe_messages(bob) == []
    assert (await meetup_of(world, carol, mid))["mySignup"]["status"] == "confirmed"
    bob_row = await world.pool.fetchrow("SELECT status, cancel_reason FROM meetup_signups WHERE user_id = $1", bob.id)
    assert tuple(bob_row) == ("cancelled", "member_left")
    assert (await meetup_of(world, alice, mid))["seatsLeft"] == 0


async def test_places_of_members_who_left_count_no_more_paid_ones_refunded_in_full(world, people):
    """Members who leave hold no place against the capacity: a sign-up to the meetup they filled gets a place at
    once (no meetup_full), the paid place is refunded in full and the unpaid order closed."""
    alice, bob, carol, dave, erin = people
    cid = await world.community(alice, bob, carol, dave, erin)
    mid = (await create_meetup(world, alice, cid, capacity=2, feeFen=2000, waitlist=False))["id"]
    paid = (await sign_up(world, bob, mid)).json()["order"]
    await world.pay_order(paid)
    unpaid = (await sign_up(world, carol, mid)).json()["order"]
    assert (await sign_up(world, dave, mid)).status_code == 409  # meetup_full
    for member in (bob, carol):
        left = await world.api.delete(f"/v1/communities/{cid}/members/me", headers=member.headers)
        assert left.status_code in (200, 204), left.text

    for member in (dave, erin):
        signed_up = await sign_up(world, member, mid)
        assert signed_up.status_code == 201 and signed_up.json()["signup"]["status"] == "pending_payment"
        await world.pay_order(signed_up.json()["order"])
    assert (await meetup_of(world, alice, mid))["seatsTaken"] == 2
    await world.run_due_jobs()
    orders = {
        r["id"]: (r["status"], r["initiated_by"])
        for r in await world.pool.fetch(
            "SELECT o.id, o.status, r.initiated_by FROM orders o LEFT JOIN refunds r ON r.order_id = o.id "
            "WHERE o.id = ANY($1::bigint[])",
            [int(paid["id"]), int(unpaid["id"])],
        )
    }
    assert orders == {int(paid["id"]): ("refunded", "admin"), int(unpaid["id"]): ("closed", None)}
    reasons = await world.pool.fetch("SELECT user_id, cancel_reason FROM meetup_signups WHERE status = 'cancelled'")
    assert {r["user_id"]: r["cancel_reason"] for r in reasons} == {bob.id: "member_left", carol.id: "member_left"}
    assert await world.payer_reads(paid) == ["你已退出社群，活动报名费用原路退回"]  # WeChat's refund message
    assert await ledger_violations(world) == []


async def test_a_waitlisted_member_who_left_is_passed_over(world, people):
    """A freed place goes to the first waitlisted member who is still a member; the one who left is dropped from
    the waitlist by the next meetups.reminders."""
    alice, bob, carol, dave, _ = people
    cid = await world.community(alice, bob, carol, dave)
    mid = (await create_meetup(world, alice, cid, capacity=1))["id"]
    assert (await sign_up(world, bob, mid)).json()["signup"]["status"] == "confirmed"
    for member in (carol, dave):
        assert (await sign_up(world, member, mid)).json()["signup"]["status"] == "waitlisted"
    left = await world.api.delete(f"/v1/communities/{cid}/members/me", headers=carol.headers)
    assert left.status_code in (200, 204), left.text

    assert (await world.api.delete(f"/v1/meetups/{mid}/signups/me", headers=bob.headers)).status_code == 200
    assert (await meetup_of(world, dave, mid))["mySignup"]["status"] == "confirmed"
    await world.run_job("meetups.reminders")
    status = "SELECT status, cancel_reason FROM meetup_signups WHERE user_id = $1"
    assert tuple(await world.pool.fetchrow(status, carol.id)) == ("cancelled", "member_left")
    assert (await meetup_of(world, alice, mid))["waitlistCount"] == 0


async def _nothing_held(world, member, mid: str) -> None:
    """The member holds no place on the meetup and no release is queued for them: the place is free."""
    meetup = await meetup_of(world, member, mid)
    assert meetup["seatsTaken"] == 0 and meetup["seatsLeft"] == meetup["capacity"], meetup
    assert meetup["mySignup"] is None or meetup["mySignup"]["status"] == "cancelled", meetup["mySignup"]
    held = await world.pool.fetchval(
        "SELECT count(*) FROM meetup_signups WHERE meetup_id = $1 AND status <> 'cancelled'", int(mid)
    )
    assert held == 0


async def test_a_sign_up_refused_for_a_key_that_paid_for_another_meetup_holds_no_place(world, people):
    """Bob pays for one meetup with an Idempotency-Key and sends the same key to sign up for another: the answer
    is idempotency_key_reused and no place of the second meetup is held for him, so Carol gets the only one."""
    alice, bob, carol, *_ = people
    cid = await world.community(alice, bob, carol)
    first = (await create_meetup(world, alice, cid, feeFen=2000))["id"]
    second = (await create_meetup(world, alice, cid, capacity=1, feeFen=3000, waitlist=False))["id"]
    key = {"Idempotency-Key": "bob-pays-1"}
    assert (await sign_up(world, bob, first, **key)).status_code == 201

    assert_problem(await sign_up(world, bob, second, **key), 422, "idempotency_key_reused")
    await _nothing_held(world, bob, second)
    assert (await meetup_of(world, bob, second))["mySignup"] is None  # refused before anything was written
    assert await world.pool.fetchval("SELECT count(*) FROM orders WHERE payer_user_id = $1", bob.id) == 1
    taken = await sign_up(world, carol, second)
    assert taken.status_code == 201 and taken.json()["signup"]["status"] == "pending_payment", taken.text
    # Bob's first sign-up is untouched, and the key still answers for it.
    again = await sign_up(world, bob, first, **key)
    assert again.status_code == 200 and again.json()["signup"]["status"] == "pending_payment", again.text


async def test_signing_up_again_with_the_key_of_a_lapsed_sign_up_holds_no_place(world, people):
    """The key of a sign-up whose hold lapsed belongs to that sign-up and its closed order: signing up again with
    it is refused (a new sign-up needs a new key) rather than holding a place against an order that cannot be
    paid any more."""
    alice, bob, carol, *_ = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, capacity=1, feeFen=2000, waitlist=False))["id"]
    key = {"Idempotency-Key": "bob-signup-1"}
    assert (await sign_up(world, bob, mid, **key)).status_code == 201
    await world.pool.execute("UPDATE meetup_signups SET hold_until = now() - interval '1 second'")
    await world.run_due_jobs()
    assert (await meetup_of(world, bob, mid))["mySignup"]["cancelReason"] == "hold_expired"

    assert_problem(await sign_up(world, bob, mid, **key), 422, "idempotency_key_reused")
    await _nothing_held(world, bob, mid)
    fresh = await sign_up(world, bob, mid, **{"Idempotency-Key": "bob-signup-2"})
    assert fresh.status_code == 201 and fresh.json()["order"]["status"] == "created", fresh.text


async def test_a_key_taken_by_another_order_while_signing_up_leaves_no_place_held(world, people):
    """The key is free when the place is taken, but another request of Bob's creates its order with the same key
    before the sign-up's order is made (a test connection holds that order uncommitted until the sign-up waits
    on it): the sign-up answers idempotency_key_reused and gives the place it took back at once."""
    alice, bob, carol, *_ = people
    cid = await world.community(alice, bob, carol)
    mid = (await create_meetup(world, alice, cid, capacity=1, feeFen=2000, waitlist=False))["id"]
    async with world.pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, subject_id, community_id,"
            " description, amount_fen, status, time_expire, idempotency_key)"
            " SELECT 'CK-race-1', id, openid, 'community_entry', $2, $2, 'other', 100, 'closed', now(), 'bob-race'"
            " FROM users WHERE id = $1",
            bob.id,
            int(cid),
        )
        signing_up = asyncio.create_task(sign_up(world, bob, mid, **{"Idempotency-Key": "bob-race"}))
        await wait_for_lock_waiters(holder, 1)
        await tx.commit()
    assert_problem(await signing_up, 422, "idempotency_key_reused")
    await _nothing_held(world, bob, mid)
    taken = await sign_up(world, carol, mid)
    assert taken.status_code == 201 and taken.json()["signup"]["status"] == "pending_payment", taken.text
    await world.run_due_jobs()
    assert (await meetup_of(world, carol, mid))["mySignup"]["status"] == "pending_payment"
    assert await ledger_violations(world) == []


async def test_the_brands_team_keeps_its_places_though_it_is_no_member(world, people):
    """The brand's team stands as admins in every community of the brand, member or not (docs/brands.md), and may
    sign up like anyone who stands there: its place is not ended as a departed member's (nor refunded), it is
    promoted from the waitlist and reminded like a member's."""
    alice, bob, *_ = people
    manager = await world.member("brand-manager")
    cid = await world.community(alice, bob)
    brand_id = await world.pool.fetchval(
        "INSERT INTO brands (owner_id, name) VALUES ($1, '山野咖啡') RETURNING id", alice.id
    )
    await world.pool.execute("UPDATE communities SET brand_id = $1 WHERE id = $2", brand_id, int(cid))
    await world.pool.execute(
        "INSERT INTO brand_admins (brand_id, user_id, role) VALUES ($1, $2, 'admin')", brand_id, manager.id
    )
    paid = await create_meetup(world, alice, cid, capacity=1, feeFen=2000, startsAt=at(minutes=90))
    order = (await sign_up(world, manager, paid["id"])).json()["order"]
    await world.pay_order(order)
    free = await create_meetup(world, alice, cid, capacity=1, startsAt=at(minutes=90))
    assert (await sign_up(world, bob, free["id"])).json()["signup"]["status"] == "confirmed"
    assert (await sign_up(world, manager, free["id"])).json()["signup"]["status"] == "waitlisted"
    assert (await world.api.delete(f"/v1/meetups/{free['id']}/signups/me", headers=bob.headers)).status_code == 200
    await world.consent(manager, world.settings.meetups_reminder_template_id, count=5)

    await world.run_job("meetups.reminders")
    await world.run_due_jobs()
    for meetup in (paid, free):
        mine = (await meetup_of(world, manager, meetup["id"]))["mySignup"]
        assert (mine["status"], mine["cancelReason"]) == ("confirmed", None), mine
    assert (await world.api.get(f"/v1/orders/{order['id']}", headers=manager.headers)).json()["status"] == "paid"
    assert len(await world.subscribe_messages(manager)) == 2  # a reminder for each place
    assert await ledger_violations(world) == []
