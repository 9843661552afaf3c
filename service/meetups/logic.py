"""Meetups themselves (create, read, edit, cancel) and the rules all their parts keep: sign-ups under the
meetup's lock, the waitlist, fees, cancellations, venue check-in. The parts: signups.py (places), attendance.py
(venue check-in), notices.py (subscribe messages), purpose.py (what a payment does).

- Capacity is exact: every change to the places taken (`seats_taken`: confirmed plus held) happens under the
  meetup row's lock, so any number of concurrent sign-ups never exceed it.
- A paid sign-up holds a place while its order can be paid (`hold_until`); the `meetups.release_hold` job
  closes the order at WeChat and gives the place to the waitlist when the hold lapses. A payment that still
  arrives for a place given away is refunded (checkout's `Refuse`).
- A freed place goes to the first waitlisted member at once (paid meetups: held for MEETUPS_PROMOTION_HOLD
  for them to pay), who is told by a subscribe message.
- Cancelling: a member, until the start (a paid place: until the sign-up deadline, refunded in full, unless
  checked in at the venue: a place used is not refunded); the admins cancel the meetup before its start and
  every paid place is refunded (after the start, `meetup_started`: the meetup happened).
- Places are for active members: one who left or was removed is never promoted nor reminded, and their place
  goes to the waitlist (signups.py `_release_departed`: paid places refunded in full).
- Locks are always taken in the order: order, meetup, sign-up (checkout locks the order before calling the
  purpose's hooks), so payments, refunds and cancellations never deadlock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.core import money as checkout
from service.core.access import ADMIN_ROLES, require_member
from service.core.apps import require_app, require_app_member
from service.core.content import require_passed
from service.core.inbox import Item, deliver
from service.core.paging import decode_cursor, encode_cursor
from service.core.revocation import hold_account
from service.core.rows import from_row
from service.errors import FieldError, Problem
from service.jobs import enqueue
from service.meetups import models as m
from service.meetups import queries as q
from service.meetups import venue
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.meetups")


APP = "meetups"
PURPOSE = "meetup"
DEFAULT_LENGTH = timedelta(hours=2)
MAX_LENGTH = timedelta(days=7)
MAX_AHEAD = timedelta(days=366)  # and so no default end or reminder time overflows the calendar (a 500 before)
HOLD_GRACE = timedelta(seconds=60)  # a hold outlives its order's time_expire by this much
REMINDER_BATCH = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(errors: list[tuple[str, str]]) -> Problem:
    return Problem(
        "validation_failed",
        "invalid meetup",
        errors=[FieldError(field=field, message=message, source="body") for field, message in errors],
    )


def _json(status: int, body: msgspec.Struct) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


# --- access and views ----------------------------------------------------------------------------------------


async def _meetup_for(
    conn: asyncpg.Connection, meetup_id: int, user_id: int, *, admin: bool = False, app_required: bool = True
) -> asyncpg.Record:
    """The meetup, for an active member of its community (anyone else: `not_found`), with the app on."""
    row = await conn.fetchrow(q.MEETUP, meetup_id)
    if row is None:
        raise Problem("not_found", "no such meetup")
    try:
        standing = await require_member(conn, row["community_id"], user_id)
    except Problem as exc:
        if exc.code == "not_member":
            raise Problem("not_found", "no such meetup") from None
        raise
    if app_required:
        await require_app(conn, row["community_id"], APP)
    if admin and standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the community's admins manage its meetups")
    return row


def _signup(row: asyncpg.Record) -> m.Signup:
    return from_row(m.Signup, row)


async def _signup_view(conn: asyncpg.Connection, signup_id: int) -> m.Signup:
    return _signup(await conn.fetchrow(q.SIGNUP, signup_id))


async def _meetup_view(conn: asyncpg.Connection, row: asyncpg.Record, user_id: int) -> m.Meetup:
    signup_id = await conn.fetchval(q.SIGNUP_ID_OF, row["id"], user_id)
    return from_row(
        m.Meetup,
        row,
        seats_left=max(0, row["capacity"] - row["seats_taken"]),
        my_signup=None if signup_id is None else await _signup_view(conn, signup_id),
    )


async def _content_check(pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, *texts: str) -> None:
    text = "\n".join(t for t in texts if t.strip())
    await require_passed(pool, wechat, user_id, text, "title, description or place")


# --- meetups -----------------------------------------------------------------------------------------------


def _check_place(mode: str, place: str, latitude: float | None, longitude: float | None) -> list[tuple[str, str]]:
    errors = []
    if mode == "offline" and not place.strip():
        errors.append(("place", "required for an offline meetup"))
    if (latitude is None) != (longitude is None):
        errors.append(("latitude" if latitude is None else "longitude", "send latitude and longitude together"))
    return errors


async def create_meetup(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    settings: Settings,
    community_id: int,
    user_id: int,
    data: m.MeetupCreate,
) -> m.Meetup:
    now = _now()
    if data.starts_at - now > MAX_AHEAD:
        raise _invalid([("startsAt", "at most a year ahead")])
    ends_at = data.ends_at or data.starts_at + DEFAULT_LENGTH
    deadline = data.signup_deadline or data.starts_at
    errors = _check_place(data.mode, data.place, data.latitude, data.longitude)
    if data.starts_at <= now:
        errors.append(("startsAt", "must be in the future"))
    if ends_at <= data.starts_at:
        errors.append(("endsAt", "must be after startsAt"))
    elif ends_at - data.starts_at > MAX_LENGTH:
        errors.append(("endsAt", "a meetup lasts at most 7 days"))
    if deadline > data.starts_at:
        errors.append(("signupDeadline", "must not be after startsAt"))
    elif deadline <= now:
        errors.append(("signupDeadline", "must be in the future"))
    if errors:
        raise _invalid(errors)
    async with pool.acquire() as conn:
        await _admin_in(conn, community_id, user_id)
    await _content_check(pool, wechat, user_id, data.title, data.description, data.place)
    async with pool.acquire() as conn, conn.transaction():
        await hold_account(conn, user_id)
        await _admin_in(conn, community_id, user_id)
        meetup_id = await conn.fetchval(
            q.INSERT_MEETUP,
            community_id,
            user_id,
            data.title,
            data.description,
            data.mode,
            data.place.strip(),
            data.latitude,
            data.longitude,
            data.starts_at,
            ends_at,
            deadline,
            data.capacity,
            data.waitlist,
            data.fee_fen,
            venue.new_code(),
            settings.meetups_promotion_hold,
        )
        return await _meetup_view(conn, await conn.fetchrow(q.MEETUP, meetup_id), user_id)


async def _admin_in(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    await require_app_member(conn, community_id, user_id, APP, admin=True)


async def list_meetups(
    conn: asyncpg.Connection, community_id: int, user_id: int, when: str, limit: int, cursor: str | None
) -> m.MeetupPage:
    await require_app_member(conn, community_id, user_id, APP)
    after = decode_cursor(cursor, datetime, int)
    query = q.MEETUPS_UPCOMING if when == "upcoming" else q.MEETUPS_PAST
    rows = await conn.fetch(query, community_id, _now(), *(after or (None, None)), limit + 1)
    items = [await _meetup_view(conn, row, user_id) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["starts_at"], last["id"])
    return m.MeetupPage(items=items, next_cursor=next_cursor)


async def get_meetup(conn: asyncpg.Connection, meetup_id: int, user_id: int) -> m.Meetup:
    return await _meetup_view(conn, await _meetup_for(conn, meetup_id, user_id), user_id)


async def update_meetup(
    pool: asyncpg.Pool, wechat: WeChatClient, meetup_id: int, user_id: int, data: m.MeetupUpdate
) -> m.Meetup:
    sent = {name for name in data.__struct_fields__ if getattr(data, name) is not UNSET}
    async with pool.acquire() as conn:
        await _meetup_for(conn, meetup_id, user_id, admin=True)
    texts = [getattr(data, name) for name in ("title", "description", "place") if name in sent]
    await _content_check(pool, wechat, user_id, *texts)
    now = _now()
    async with pool.acquire() as conn, conn.transaction():
        seen = await _meetup_for(conn, meetup_id, user_id, admin=True)
        row = await conn.fetchrow(q.LOCK_MEETUP, seen["community_id"], meetup_id)
        if row["status"] == "cancelled":
            raise Problem("meetup_cancelled")
        values = dict(row)
        values.update({name: getattr(data, name) for name in sent})
        errors = _check_place(values["mode"], values["place"], values["latitude"], values["longitude"])
        # As at creation: a deadline in the past would close at once the refund window of places already paid for
        # (and one out of the calendar in UTC failed in PostgreSQL: a 500).
        if "signup_deadline" in sent and values["signup_deadline"] > values["starts_at"]:
            errors.append(("signupDeadline", "must not be after startsAt"))
        elif "signup_deadline" in sent and values["signup_deadline"] <= now:
            errors.append(("signupDeadline", "must be in the future"))
        if errors:
            raise _invalid(errors)
        if values["capacity"] < row["seats_taken"]:
            raise Problem("capacity_below_signups", f"{row['seats_taken']} places are taken")
        await conn.execute(
            q.UPDATE_MEETUP,
            meetup_id,
            values["title"],
            values["description"],
            values["place"].strip(),
            values["latitude"],
            values["longitude"],
            values["capacity"],
            values["waitlist"],
            values["signup_deadline"],
        )
        await _promote(conn, row["community_id"], meetup_id, now)
        changed = sorted(name for name in _TOLD_CHANGES if values[name] != row[name])
        if changed:
            data = {"title": values["title"], "changed": ",".join(changed)}
            await _tell_signed_up(conn, row, "meetup_changed", user_id, data)
        return await _meetup_view(conn, await conn.fetchrow(q.MEETUP, meetup_id), user_id)


# What members signed up must hear of (the capacity or the waitlist changes nothing for them).
_TOLD_CHANGES = ("title", "description", "place", "latitude", "longitude", "signup_deadline")


async def _tell_signed_up(conn: asyncpg.Connection, meetup: asyncpg.Record, kind: str, actor: int, data: dict) -> None:
    signed_up = [r["user_id"] for r in await conn.fetch(q.SIGNED_UP, meetup["id"])]
    await deliver(conn, Item(signed_up, kind, "meetup", meetup["id"], meetup["community_id"], actor, data))


async def cancel_meetup(
    pool: asyncpg.Pool, wechat: WeChatClient, pay: WeChatPay, meetup_id: int, user_id: int, data: m.MeetupCancel
) -> m.Meetup:
    """Cancel it (admins, also with the app switched off, so money can always go back): every sign-up is
    cancelled and every paid place refunded in full (by a job; started here at once). Only before the start
    (`meetup_started`): members may have checked in, and the refunds would come out of the organiser's income
    for a meetup that happened. A reason passes WeChat's content check first: refused or unchecked, nothing
    is cancelled. Cancelling a cancelled meetup again (a retry, at any time) answers it and restarts refunds."""
    reason = data.reason.strip()
    async with pool.acquire() as conn:
        seen = await _meetup_for(conn, meetup_id, user_id, admin=True, app_required=False)  # an admin's text
    _require_not_started(seen)
    # The reason reaches every signed-up member's inbox; cancelling again (a retry, the refunds started again)
    # sends nothing, so WeChat being down must not refuse it.
    if reason and seen["status"] != "cancelled":
        await require_passed(pool, wechat, user_id, reason, "reason")
    async with pool.acquire() as conn, conn.transaction():
        seen = await _meetup_for(conn, meetup_id, user_id, admin=True, app_required=False)
        row = await conn.fetchrow(q.LOCK_MEETUP, seen["community_id"], meetup_id)
        _require_not_started(row)
        if row["status"] != "cancelled":
            await _tell_signed_up(conn, row, "meetup_cancelled", user_id, {"title": row["title"], "reason": reason})
            await conn.execute(q.CANCEL_MEETUP, meetup_id, reason)
            await conn.execute(q.CANCEL_ALL_SIGNUPS, meetup_id)
            await enqueue(
                conn, "meetups.refund_cancelled", {"meetup_id": meetup_id}, dedupe_key=f"meetups.refund:{meetup_id}"
            )
    await refund_cancelled(pool, pay, meetup_id)
    async with pool.acquire() as conn:
        return await _meetup_view(conn, await conn.fetchrow(q.MEETUP, meetup_id), user_id)


def _require_not_started(meetup: asyncpg.Record) -> None:
    if meetup["status"] != "cancelled" and _now() >= meetup["starts_at"]:
        raise Problem("meetup_started", f"the meetup started at {meetup['starts_at'].isoformat()}")


async def refund_cancelled(pool: asyncpg.Pool, pay: WeChatPay, meetup_id: int) -> int:
    """Refund every paid place of a cancelled meetup once, and close its orders still open (a payment that
    arrives anyway is refused and refunded by checkout). Idempotent; returns the refunds created."""
    created = 0
    meetup = await pool.fetchrow(q.MEETUP, meetup_id)
    # WeChat's refund message says why, as a collection's: the admin's reason (content-checked before the cancel),
    # else the meetup's title (core/money/notices.py, cut to WeChat's 80 characters).
    reason = f"meetup_cancelled: {meetup['cancel_reason'] or meetup['title']}"
    for row in await pool.fetch(q.PAID_ORDERS_OF_CANCELLED, meetup_id):
        async with pool.acquire() as conn, conn.transaction():
            try:
                await checkout.refund_order(conn, row["order_id"], initiated_by="admin", reason=reason)
                created += 1
            except Problem as exc:
                if exc.code != "order_not_paid":  # already refunded: nothing left to give back
                    raise
    for row in await pool.fetch(q.OPEN_ORDERS_OF_CANCELLED, meetup_id):
        await _close_quietly(pool, pay, row["id"])
    return created


async def _close_quietly(pool: asyncpg.Pool, pay: WeChatPay, order_id: int) -> None:
    try:
        await checkout.close_order(pool, pay, order_id)
    except (PayError, Problem) as exc:
        log.info("closing a meetup order left to checkout's expiry", extra={"orderId": order_id, "why": str(exc)})


async def _promote(conn: asyncpg.Connection, community_id: int, meetup_id: int, now: datetime) -> list[int]:
    """Under the meetup's lock: give free places to the waitlist, first come first served."""
    meetup = await conn.fetchrow(q.LOCK_MEETUP, community_id, meetup_id)
    free = meetup["capacity"] - meetup["seats_taken"]
    if free <= 0 or meetup["status"] != "open" or meetup["starts_at"] <= now:
        return []
    paid = meetup["fee_fen"] is not None
    hold_until = now + timedelta(seconds=meetup["promotion_hold"]) if paid else None
    promoted = [
        r["id"]
        for r in await conn.fetch(
            q.PROMOTE, community_id, meetup_id, free, "pending_payment" if paid else "confirmed", hold_until
        )
    ]
    if promoted:
        await conn.execute(q.ADD_SEATS, meetup_id, len(promoted))
    for signup_id in promoted:
        if paid:
            await _schedule_release(conn, signup_id, hold_until)
        await enqueue(conn, "meetups.promoted", {"signup_id": signup_id}, dedupe_key=f"meetups.promoted:{signup_id}")
    return promoted


async def _schedule_release(conn: asyncpg.Connection, signup_id: int, at: datetime) -> None:
    await enqueue(
        conn, "meetups.release_hold", {"signup_id": signup_id}, run_at=at, dedupe_key=f"meetups.hold:{signup_id}"
    )
