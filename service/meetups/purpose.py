"""The checkout purpose of paid meetups: what a payment or a refund does to the place it pays for."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.errors import Problem
from service.meetups import queries as q
from service.meetups.logic import PURPOSE, _now
from service.meetups.signups import _cancel


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """In the payment's transaction (the order is locked): confirm the held place (until the meetup ends), or take a
    free one for a payment that arrives after its hold lapsed (before the start); otherwise refuse (the payment is
    refunded)."""
    seen = await conn.fetchrow(q.SIGNUP_MEETUP, order.subject_id)
    if seen is None:
        return Refuse("signup_unknown", "no such meetup sign-up")
    meetup_id, community_id = seen["meetup_id"], seen["community_id"]
    meetup = await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
    signup = await conn.fetchrow(q.LOCK_SIGNUP, community_id, order.subject_id)
    if signup["user_id"] != order.payer_user_id:
        return Refuse("payer_mismatch", "the sign-up is someone else's")
    if meetup["status"] == "cancelled":
        return Refuse("meetup_cancelled", "the meetup was cancelled")
    if signup["status"] == "pending_payment" and _now() >= meetup["ends_at"]:
        # Paid within the hold but after the meetup ended: the place buys nothing now, and neither a cancellation
        # nor the payer's refund window (the sign-up deadline) could give the money back.
        return Refuse("signup_not_payable", f"the meetup ended at {meetup['ends_at'].isoformat()}")
    if signup["status"] == "pending_payment":
        await conn.execute(q.CONFIRM, signup["id"], order.id)
        return None
    late = signup["status"] == "cancelled" and signup["cancel_reason"] == "hold_expired"
    if late and _now() < meetup["starts_at"] and meetup["seats_taken"] < meetup["capacity"]:
        await conn.execute(q.CONFIRM, signup["id"], order.id)
        await conn.execute(q.ADD_SEATS, meetup_id, 1)
        return None
    if late:
        return Refuse("meetup_full", "the place was given to the waitlist before the payment arrived")
    return Refuse("signup_not_payable", f"the sign-up is {signup['status']}")


async def _on_refund(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    """A payer's or an admin's refund (the order is locked) gives the place up. The payer's own, for a place
    checked in at the venue meanwhile (after the window was read), is refused: the refund is rolled back."""
    seen = await conn.fetchrow(q.SIGNUP_MEETUP, order.subject_id)
    if seen is None:
        return
    meetup_id, community_id = seen["meetup_id"], seen["community_id"]
    await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
    signup = await conn.fetchrow(q.LOCK_SIGNUP, community_id, order.subject_id)
    if signup["status"] in ("confirmed", "pending_payment") and signup["order_id"] == order.id:
        if refund.initiated_by == "payer" and signup["attended_at"] is not None:
            raise Problem("refund_window_closed", f"refunds were possible until {signup['attended_at']} (check-in)")
        await _cancel(conn, meetup_id, signup, "refunded", _now())


async def _refund_window(conn: asyncpg.Connection, order: PaidOrder) -> timedelta | None:
    """The payer may ask for the money back until the sign-up deadline, or until checking in at the venue
    (which opens before the start): a place used is not refunded."""
    seen = await conn.fetchrow(q.SIGNUP_MEETUP, order.subject_id)
    meetup = await conn.fetchrow(q.MEETUP, seen["meetup_id"]) if seen else None
    if meetup is None or order.paid_at is None:
        return None
    until = meetup["signup_deadline"]
    if seen["attended_at"] is not None:
        until = min(until, seen["attended_at"])
    return until - order.paid_at


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
MEETUP_PURPOSE = Purpose(PURPOSE, on_paid=_on_paid, on_refund=_on_refund, payer_refund_window=_refund_window)
