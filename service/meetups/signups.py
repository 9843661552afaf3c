"""A meetup's places: sign-up under the meetup's lock, the waitlist, holds for paid places, cancellation, the
places of members who left."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg
from litestar import Response

from service.core import money as checkout
from service.core.paging import fetch_page
from service.core.revocation import hold_account
from service.errors import Problem
from service.jobs import Reschedule, enqueue
from service.meetups import models as m
from service.meetups import queries as q
from service.meetups.logic import (
    HOLD_GRACE,
    PURPOSE,
    _close_quietly,
    _json,
    _meetup_for,
    _now,
    _promote,
    _schedule_release,
    _signup,
    _signup_view,
)
from service.settings import Settings
from service.wechat.pay import WeChatPay

log = logging.getLogger("service.meetups")


async def _cancel(conn: asyncpg.Connection, meetup_id: int, signup: asyncpg.Record, reason: str, now: datetime) -> None:
    """Under the meetup's and the sign-up's locks: cancel it and pass a freed place on."""
    await conn.execute(q.CANCEL_SIGNUP, signup["id"], reason)
    if signup["status"] in ("confirmed", "pending_payment"):
        await conn.execute(q.ADD_SEATS, meetup_id, -1)
        await _promote(conn, signup["community_id"], meetup_id, now)


async def _release_departed(conn: asyncpg.Connection, community_id: int, meetup_id: int, now: datetime) -> int:
    """Under the meetup's lock: the places and waitlist entries of members who left the community or were removed
    end, their places go to the waitlist, and a job refunds or closes their orders. How many ended."""
    gone = await conn.fetch(q.CANCEL_DEPARTED, community_id, meetup_id)
    held = sum(row["held"] for row in gone)
    if held:
        await conn.execute(q.ADD_SEATS, meetup_id, -held)
        await _promote(conn, community_id, meetup_id, now)
    for row in gone:
        if row["order_id"] is not None:  # by the order: a re-join's new sign-up reuses the row
            order_id = row["order_id"]
            await enqueue(
                conn, "meetups.settle_departed", {"order_id": order_id}, dedupe_key=f"meetups.departed:{order_id}"
            )
    return len(gone)


async def release_departed(pool: asyncpg.Pool, batch: int) -> int:
    """The sweep: meetups still to come where members who left hold or wait for places, one transaction each."""
    released = 0
    for row in await pool.fetch(q.DEPARTED, batch):
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(q.LOCK_MEETUP, row["community_id"], row["meetup_id"])
            released += await _release_departed(conn, row["community_id"], row["meetup_id"], _now())
    return released


async def settle_departed(pool: asyncpg.Pool, pay: WeChatPay, order_id: int) -> None:
    """The order of a place lost by leaving the community: paid, refunded in full (the member can no longer
    cancel it); unpaid, closed (a payment that still arrives is refused and refunded by checkout)."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            # As the meetup's own refunds: on_refund gives up a place this order might back again (a re-join).
            await checkout.refund_order(
                conn, order_id, initiated_by="admin", reason="member_left: the member left the community"
            )
            return
        except Problem as exc:
            if exc.code != "order_not_paid":  # already refunded, or never paid
                raise
    await _close_quietly(pool, pay, order_id)


def _pays_for(order: asyncpg.Record, signup_id: int) -> bool:
    return order["purpose"] == PURPOSE and order["subject_id"] == signup_id


async def _give_back(pool: asyncpg.Pool, community_id: int, meetup_id: int, signup_id: int) -> None:
    """The place a refused sign-up took and no order backs: released as a lapsed hold would be."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
        signup = await conn.fetchrow(q.LOCK_SIGNUP, community_id, signup_id)
        if signup["status"] == "pending_payment" and signup["order_id"] is None:
            await _cancel(conn, meetup_id, signup, "hold_expired", _now())


async def sign_up(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, meetup_id: int, user_id: int, key: str | None
) -> Response[bytes]:
    """201 with a new sign-up (confirmed, pending_payment with the order to pay, or waitlisted); 200 with the
    existing one when already signed up (a pending payment gets its order again).

    A key that already made an order for anything but this sign-up is refused (`idempotency_key_reused`) in the
    transaction that would take the place, so a refused request holds nothing. A sign-up taken (again) by this
    request has no order yet: any order of the key belongs to something else, or to a lapsed or cancelled
    earlier life of the sign-up, whose closed order could not pay for the new place."""
    now = _now()
    async with pool.acquire() as conn, conn.transaction():
        await hold_account(conn, user_id)
        community_id = (await _meetup_for(conn, meetup_id, user_id))["community_id"]
        keyed = None if key is None else await checkout.order_of_key(conn, user_id, key)
        meetup = await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
        current = await conn.fetchrow(q.LOCK_SIGNUP_OF, community_id, meetup_id, user_id)
        created = current is None or current["status"] == "cancelled"
        if created:
            if meetup["status"] == "cancelled":
                raise Problem("meetup_cancelled")
            if now >= meetup["signup_deadline"]:
                raise Problem("signup_closed", f"sign-ups closed at {meetup['signup_deadline'].isoformat()}")
            hold_until = None
            if meetup["seats_taken"] >= meetup["capacity"]:
                # Places of members who left count no more: they go to the waitlist first.
                await _release_departed(conn, community_id, meetup_id, now)
                meetup = await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
            if meetup["seats_taken"] < meetup["capacity"]:
                status = "confirmed" if meetup["fee_fen"] is None else "pending_payment"
            elif meetup["waitlist"]:
                status = "waitlisted"
            else:
                raise Problem("meetup_full", f"all {meetup['capacity']} places are taken")
            if status == "pending_payment":
                hold_until = now + timedelta(seconds=settings.checkout_order_ttl) + HOLD_GRACE
            row = await conn.fetchrow(q.UPSERT_SIGNUP, meetup_id, meetup["community_id"], user_id, status, hold_until)
            if status != "waitlisted":
                await conn.execute(q.ADD_SEATS, meetup_id, 1)
            if hold_until is not None:
                await _schedule_release(conn, row["id"], hold_until)
            signup_id = row["id"]
        else:
            if current["status"] == "pending_payment" and now >= meetup["ends_at"]:
                # A place held for payment is worth nothing once the meetup is over: no order for it (purpose.py
                # refuses a payment that still arrives).
                raise Problem("signup_closed", f"the meetup ended at {meetup['ends_at'].isoformat()}")
            signup_id = current["id"]
        status = (await conn.fetchrow(q.SIGNUP, signup_id))["status"]
        if status == "pending_payment" and keyed is not None and (created or not _pays_for(keyed, signup_id)):
            raise Problem("idempotency_key_reused", "this Idempotency-Key paid for something else")
    order = None
    if status == "pending_payment":
        result = await checkout.create_order(
            pool,
            pay,
            settings,
            payer_user_id=user_id,
            purpose=PURPOSE,
            subject_id=signup_id,
            community_id=meetup["community_id"],
            amount_fen=meetup["fee_fen"],
            description=f"活动报名：{meetup['title']}"[:100],
            idempotency_key=key,
        )
        order = result.order
        if order.purpose != PURPOSE or order.subject_id != str(signup_id):
            # Another request of the member's made its order with this key since the check above: the place
            # this request took goes back at once instead of staying held until the hold lapses.
            if created:
                await _give_back(pool, community_id, meetup_id, signup_id)
            raise Problem("idempotency_key_reused", "this Idempotency-Key paid for something else")
        async with pool.acquire() as conn, conn.transaction():
            hold_until = await conn.fetchval(q.ATTACH_ORDER, signup_id, int(order.id), order.time_expire + HOLD_GRACE)
            if hold_until is not None:
                # A release running now may have read the previous order and return: it goes again for this hold.
                await _schedule_release(conn, signup_id, hold_until)
    async with pool.acquire() as conn:
        signup = await _signup_view(conn, signup_id)
    return _json(201 if created else 200, m.SignupResult(signup=signup, order=order))


async def cancel_signup(pool: asyncpg.Pool, pay: WeChatPay, meetup_id: int, user_id: int) -> m.Signup:
    """Give up my place or leave the waitlist (also with the app switched off). A paid place is refunded in
    full until the sign-up deadline; after it, `cancellation_closed`; once checked in at the venue,
    `meetup_attended`. Cancelling twice is fine."""
    now = _now()
    for _ in range(3):
        async with pool.acquire() as conn:
            community_id = (await _meetup_for(conn, meetup_id, user_id, app_required=False))["community_id"]
            seen = await conn.fetchrow(q.SIGNUP_OF, meetup_id, user_id)
            if seen is None:
                raise Problem("not_found", "you have not signed up for this meetup")
            if seen["status"] == "cancelled":
                return await _signup_view(conn, seen["id"])
            order_id = seen["order_id"]
            async with conn.transaction():
                order = await conn.fetchrow(q.LOCK_ORDER, community_id, order_id) if order_id else None
                meetup = await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
                signup = await conn.fetchrow(q.LOCK_SIGNUP, community_id, seen["id"])
                if signup["order_id"] != order_id:
                    continue  # paid meanwhile: take the locks again, the order's first
                if signup["status"] == "cancelled":
                    return await _signup_view(conn, signup["id"])
                if now >= meetup["starts_at"]:
                    raise Problem("cancellation_closed", "the meetup has started")
                paid = signup["status"] == "confirmed" and order is not None and order["status"] == "paid"
                if paid and signup["attended_at"] is not None:
                    # Check-in opens before the start (and the deadline): a place used is not refunded. A free
                    # one may still be given up (no money moves; attendance stays with the sign-up).
                    raise Problem("meetup_attended", "you checked in at the venue: the place was used")
                if paid and now >= meetup["signup_deadline"]:
                    raise Problem("cancellation_closed", "a paid place can be cancelled until the sign-up deadline")
                await _cancel(conn, meetup_id, signup, "member", now)
                if paid:
                    await checkout.refund_order(
                        conn,
                        order_id,
                        initiated_by="payer",
                        requested_by=user_id,
                        reason="signup_cancelled: the member cancelled the sign-up",
                    )
            if order is not None and order["status"] == "created":
                await _close_quietly(pool, pay, order_id)
            return await _signup_view(conn, seen["id"])
    raise Problem("conflict", "the sign-up changed while cancelling; retry")


async def list_signups(
    conn: asyncpg.Connection, meetup_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.SignupPage:
    await _meetup_for(conn, meetup_id, user_id, admin=True)
    items, next_cursor = await fetch_page(conn, q.SIGNUPS, meetup_id, status, limit=limit, cursor=cursor, item=_signup)
    return m.SignupPage(items=items, next_cursor=next_cursor)


async def release_hold(pool: asyncpg.Pool, pay: WeChatPay, signup_id: int) -> None:
    """The hold of an unpaid place lapsed: close its order (a last-moment payment confirms the place
    instead), then pass the place on. Runs again later while the hold or the order is still alive."""
    row = await pool.fetchrow(q.SIGNUP_WITH_ORDER, signup_id)
    if row is None or row["status"] != "pending_payment":
        return
    now = _now()
    if row["hold_until"] > now:
        raise Reschedule((row["hold_until"] - now).total_seconds() + 1)
    if row["order_status"] == "created":
        if await checkout.close_order(pool, pay, row["order_id"]) == "paid":
            return
    async with pool.acquire() as conn, conn.transaction():
        if row["order_id"] is not None:
            await conn.fetchrow(q.LOCK_ORDER, row["community_id"], row["order_id"])
        await conn.fetchrow(q.LOCK_MEETUP, row["community_id"], row["meetup_id"])
        signup = await conn.fetchrow(q.LOCK_SIGNUP, row["community_id"], signup_id)
        if signup["status"] != "pending_payment" or signup["order_id"] != row["order_id"]:
            return  # paid, cancelled, or given a new order meanwhile (sign_up queued this job again for its hold)
        if signup["hold_until"] > now:
            raise Reschedule((signup["hold_until"] - now).total_seconds() + 1)
        await _cancel(conn, row["meetup_id"], signup, "hold_expired", now)
    log.info("unpaid meetup place released", extra={"signupId": signup_id})
