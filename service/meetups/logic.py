"""The rules of meetups: sign-ups under the meetup's lock, the waitlist, fees, cancellations, venue check-in.

- Capacity is exact: every change to the places taken (`seats_taken`: confirmed plus held) happens under the
  meetup row's lock, so any number of concurrent sign-ups never exceed it.
- A paid sign-up holds a place while its order can be paid (`hold_until`); the `meetups.release_hold` job
  closes the order at WeChat and gives the place to the waitlist when the hold lapses. A payment that still
  arrives for a place given away is refunded (checkout's `Refuse`).
- A freed place goes to the first waitlisted member at once (paid meetups: held for MEETUPS_PROMOTION_HOLD
  for them to pay), who is told by a subscribe message.
- Cancelling: a member, until the start (a paid place: until the sign-up deadline, refunded in full); the
  admins cancel the meetup and every paid place is refunded.
- Locks are always taken in the order: order, meetup, sign-up (checkout locks the order before calling the
  purpose's hooks), so payments, refunds and cancellations never deadlock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.core import money as checkout
from service.core.access import ADMIN_ROLES, require_member
from service.core.apps import require_app, require_app_member
from service.core.content import openid_of, status_for
from service.core.interactions import record
from service.core.messaging import send_once, thing
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.core.paging import decode_cursor, encode_cursor
from service.errors import FieldError, Problem
from service.jobs import Reschedule, enqueue
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
    return m.Signup(
        id=str(row["id"]),
        meetup_id=str(row["meetup_id"]),
        user_id=str(row["user_id"]),
        nickname=row["nickname"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        waitlist_position=row["waitlist_position"],
        hold_until=row["hold_until"],
        order_id=None if row["order_id"] is None else str(row["order_id"]),
        attended_at=row["attended_at"],
        created_at=row["created_at"],
    )


async def _signup_view(conn: asyncpg.Connection, signup_id: int) -> m.Signup:
    return _signup(await conn.fetchrow(q.SIGNUP, signup_id))


async def _meetup_view(conn: asyncpg.Connection, row: asyncpg.Record, user_id: int) -> m.Meetup:
    signup_id = await conn.fetchval(q.SIGNUP_ID_OF, row["id"], user_id)
    return m.Meetup(
        id=str(row["id"]),
        community_id=str(row["community_id"]),
        title=row["title"],
        description=row["description"],
        mode=row["mode"],
        place=row["place"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        signup_deadline=row["signup_deadline"],
        capacity=row["capacity"],
        seats_taken=row["seats_taken"],
        seats_left=max(0, row["capacity"] - row["seats_taken"]),
        waitlist=row["waitlist"],
        waitlist_count=row["waitlist_count"],
        fee_fen=row["fee_fen"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        created_at=row["created_at"],
        my_signup=None if signup_id is None else await _signup_view(conn, signup_id),
    )


async def _content_check(pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, *texts: str) -> None:
    text = "\n".join(t for t in texts if t.strip())
    if not text:
        return
    async with pool.acquire() as conn:
        openid = await openid_of(conn, user_id)
    if await status_for(wechat, openid, text) != "visible":
        raise Problem("content_rejected", "the title, description or place needs review; rephrase it")


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
        await _meetup_for(conn, meetup_id, user_id, admin=True)
        row = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
        if row["status"] == "cancelled":
            raise Problem("meetup_cancelled")
        values = dict(row)
        values.update({name: getattr(data, name) for name in sent})
        errors = _check_place(values["mode"], values["place"], values["latitude"], values["longitude"])
        if "signup_deadline" in sent and values["signup_deadline"] > values["starts_at"]:
            errors.append(("signupDeadline", "must not be after startsAt"))
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
        await _promote(conn, meetup_id, now)
        return await _meetup_view(conn, await conn.fetchrow(q.MEETUP, meetup_id), user_id)


async def cancel_meetup(
    pool: asyncpg.Pool, pay: WeChatPay, meetup_id: int, user_id: int, data: m.MeetupCancel
) -> m.Meetup:
    """Cancel it (admins, also with the app switched off, so money can always go back): every sign-up is
    cancelled and every paid place refunded in full (by a job; started here at once)."""
    async with pool.acquire() as conn, conn.transaction():
        await _meetup_for(conn, meetup_id, user_id, admin=True, app_required=False)
        row = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
        if row["status"] != "cancelled":
            await conn.execute(q.CANCEL_MEETUP, meetup_id, data.reason.strip())
            await conn.execute(q.CANCEL_ALL_SIGNUPS, meetup_id)
            await enqueue(
                conn, "meetups.refund_cancelled", {"meetup_id": meetup_id}, dedupe_key=f"meetups.refund:{meetup_id}"
            )
    await refund_cancelled(pool, pay, meetup_id)
    async with pool.acquire() as conn:
        return await _meetup_view(conn, await conn.fetchrow(q.MEETUP, meetup_id), user_id)


async def refund_cancelled(pool: asyncpg.Pool, pay: WeChatPay, meetup_id: int) -> int:
    """Refund every paid place of a cancelled meetup once, and close its orders still open (a payment that
    arrives anyway is refused and refunded by checkout). Idempotent; returns the refunds created."""
    created = 0
    for row in await pool.fetch(q.PAID_ORDERS_OF_CANCELLED, meetup_id):
        async with pool.acquire() as conn, conn.transaction():
            try:
                await checkout.refund_order(
                    conn, row["order_id"], initiated_by="admin", reason="the meetup was cancelled"
                )
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


# --- places: sign-up, waitlist, cancellation -------------------------------------------------------------------


async def _promote(conn: asyncpg.Connection, meetup_id: int, now: datetime) -> list[int]:
    """Under the meetup's lock: give free places to the waitlist, first come first served."""
    meetup = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
    free = meetup["capacity"] - meetup["seats_taken"]
    if free <= 0 or meetup["status"] != "open" or meetup["starts_at"] <= now:
        return []
    paid = meetup["fee_fen"] is not None
    hold_until = now + timedelta(seconds=meetup["promotion_hold"]) if paid else None
    promoted = [
        r["id"]
        for r in await conn.fetch(q.PROMOTE, meetup_id, free, "pending_payment" if paid else "confirmed", hold_until)
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


async def _cancel(conn: asyncpg.Connection, meetup_id: int, signup: asyncpg.Record, reason: str, now: datetime) -> None:
    """Under the meetup's and the sign-up's locks: cancel it and pass a freed place on."""
    await conn.execute(q.CANCEL_SIGNUP, signup["id"], reason)
    if signup["status"] in ("confirmed", "pending_payment"):
        await conn.execute(q.ADD_SEATS, meetup_id, -1)
        await _promote(conn, meetup_id, now)


async def sign_up(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, meetup_id: int, user_id: int, key: str | None
) -> Response[bytes]:
    """201 with a new sign-up (confirmed, pending_payment with the order to pay, or waitlisted); 200 with the
    existing one when already signed up (a pending payment gets its order again)."""
    now = _now()
    async with pool.acquire() as conn, conn.transaction():
        await _meetup_for(conn, meetup_id, user_id)
        meetup = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
        current = await conn.fetchrow(q.LOCK_SIGNUP_OF, meetup_id, user_id)
        created = current is None or current["status"] == "cancelled"
        if created:
            if meetup["status"] == "cancelled":
                raise Problem("meetup_cancelled")
            if now >= meetup["signup_deadline"]:
                raise Problem("signup_closed", f"sign-ups closed at {meetup['signup_deadline'].isoformat()}")
            hold_until = None
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
            signup_id = current["id"]
        status = (await conn.fetchrow(q.SIGNUP, signup_id))["status"]
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
            raise Problem("idempotency_key_reused", "this Idempotency-Key paid for something else")
        async with pool.acquire() as conn:
            await conn.execute(q.ATTACH_ORDER, signup_id, int(order.id), order.time_expire + HOLD_GRACE)
    async with pool.acquire() as conn:
        signup = await _signup_view(conn, signup_id)
    return _json(201 if created else 200, m.SignupResult(signup=signup, order=order))


async def cancel_signup(pool: asyncpg.Pool, pay: WeChatPay, meetup_id: int, user_id: int) -> m.Signup:
    """Give up my place or leave the waitlist (also with the app switched off). A paid place is refunded in
    full until the sign-up deadline; after it, `cancellation_closed`. Cancelling twice is fine."""
    now = _now()
    for _ in range(3):
        async with pool.acquire() as conn:
            await _meetup_for(conn, meetup_id, user_id, app_required=False)
            seen = await conn.fetchrow(q.SIGNUP_OF, meetup_id, user_id)
            if seen is None:
                raise Problem("not_found", "you have not signed up for this meetup")
            if seen["status"] == "cancelled":
                return await _signup_view(conn, seen["id"])
            order_id = seen["order_id"]
            async with conn.transaction():
                order = await conn.fetchrow(q.LOCK_ORDER, order_id) if order_id else None
                meetup = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
                signup = await conn.fetchrow(q.LOCK_SIGNUP, seen["id"])
                if signup["order_id"] != order_id:
                    continue  # paid meanwhile: take the locks again, the order's first
                if signup["status"] == "cancelled":
                    return await _signup_view(conn, signup["id"])
                if now >= meetup["starts_at"]:
                    raise Problem("cancellation_closed", "the meetup has started")
                paid = signup["status"] == "confirmed" and order is not None and order["status"] == "paid"
                if paid and now >= meetup["signup_deadline"]:
                    raise Problem("cancellation_closed", "a paid place can be cancelled until the sign-up deadline")
                await _cancel(conn, meetup_id, signup, "member", now)
                if paid:
                    await checkout.refund_order(
                        conn, order_id, initiated_by="payer", requested_by=user_id, reason="meetup sign-up cancelled"
                    )
            if order is not None and order["status"] == "created":
                await _close_quietly(pool, pay, order_id)
            return await _signup_view(conn, seen["id"])
    raise Problem("conflict", "the sign-up changed while cancelling; retry")


async def list_signups(
    conn: asyncpg.Connection, meetup_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.SignupPage:
    await _meetup_for(conn, meetup_id, user_id, admin=True)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.SIGNUPS, meetup_id, status, after[0] if after else None, limit + 1)
    items = [_signup(row) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["sort_id"]) if len(rows) > limit else None
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
            await conn.fetchrow(q.LOCK_ORDER, row["order_id"])
        await conn.fetchrow(q.LOCK_MEETUP, row["meetup_id"])
        signup = await conn.fetchrow(q.LOCK_SIGNUP, signup_id)
        if signup["status"] != "pending_payment" or signup["order_id"] != row["order_id"]:
            return  # paid, cancelled or given a new order meanwhile
        if signup["hold_until"] > now:
            raise Reschedule((signup["hold_until"] - now).total_seconds() + 1)
        await _cancel(conn, row["meetup_id"], signup, "hold_expired", now)
    log.info("unpaid meetup place released", extra={"signupId": signup_id})


# --- venue check-in -------------------------------------------------------------------------------------------


def _check_in_window(settings: Settings, meetup: asyncpg.Record) -> tuple[datetime, datetime]:
    return meetup["starts_at"] - timedelta(seconds=settings.meetups_checkin_opens_before), meetup["ends_at"]


async def venue_code(conn: asyncpg.Connection, settings: Settings, meetup_id: int, user_id: int) -> m.VenueCode:
    meetup = await _meetup_for(conn, meetup_id, user_id, admin=True)
    if meetup["status"] == "cancelled":
        raise Problem("meetup_cancelled")
    opens, closes = _check_in_window(settings, meetup)
    expires = min(_now() + timedelta(seconds=settings.meetups_qr_ttl), closes)
    return m.VenueCode(
        code=meetup["venue_code"],
        qr_payload=venue.sign(settings, meetup_id, expires),
        qr_expires_at=expires.replace(microsecond=0),
        check_in_opens_at=opens,
        check_in_closes_at=closes,
    )


async def attend(
    conn: asyncpg.Connection, settings: Settings, meetup_id: int, user_id: int, data: m.AttendanceCheck
) -> Response[bytes]:
    """Check in at the venue: 201 the first time (recorded as the interaction `attendance`), 200 after."""
    if (data.code is None) == (data.qr is None):
        raise _invalid([("code", "send either code or qr")])
    now = _now()
    async with conn.transaction():
        meetup = await _meetup_for(conn, meetup_id, user_id)
        if meetup["status"] == "cancelled":
            raise Problem("meetup_cancelled")
        if data.qr is not None:
            venue.verify(settings, data.qr, meetup_id, now)
        elif not venue.code_matches(data.code, meetup["venue_code"]):
            raise Problem("venue_code_invalid", "wrong venue code")
        opens, closes = _check_in_window(settings, meetup)
        if not opens <= now < closes:
            raise Problem("venue_check_in_closed", f"check-in is open from {opens.isoformat()} to {closes.isoformat()}")
        signup = await conn.fetchrow(q.LOCK_SIGNUP_OF, meetup_id, user_id)
        if signup is None or signup["status"] != "confirmed":
            raise Problem("not_signed_up")
        first = await conn.fetchval(q.MARK_ATTENDED, signup["id"], now, "qr" if data.qr is not None else "code")
        if first:
            await record(conn, meetup["community_id"], user_id, "attendance", occurred_at=now)
        return _json(201 if first else 200, await _signup_view(conn, signup["id"]))


# --- subscribe messages -----------------------------------------------------------------------------------------


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


async def send_reminders(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings) -> int:
    """Remind confirmed members before the start (MEETUPS_REMINDER_LEAD), once each: claimed first, sent
    after, the outcome recorded (no_consent for 43101: the member's quota is respected, never retried;
    muted when the member muted the community)."""
    claimed = await pool.fetch(q.CLAIM_REMINDERS, float(settings.meetups_reminder_lead), REMINDER_BATCH)
    for row in claimed:
        context = await pool.fetchrow(q.NOTICE_CONTEXT, row["id"])
        if context["muted"]:
            result = "muted"
        else:
            data = {
                "thing1": thing(context["title"]),
                "time2": _local(context["starts_at"], context["timezone"]),
                "thing3": thing(context["place"] or ("线上" if context["mode"] == "online" else "")) or "-",
            }
            page = f"pages/meetup/detail?id={context['meetup_id']}"
            result = await send_once(wechat, context["openid"], settings.meetups_reminder_template_id, data, page=page)
        await pool.execute(q.SET_REMINDER_STATUS, row["id"], result)
    return len(claimed)


async def notify_promoted(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, signup_id: int) -> str | None:
    """Tell a member the waitlist gave them a place (and until when to pay), at most once."""
    if await pool.fetchval(q.CLAIM_PROMOTION_NOTICE, signup_id) is None:
        return None
    context = await pool.fetchrow(q.NOTICE_CONTEXT, signup_id)
    if context["muted"]:
        result = "muted"
    else:
        deadline = context["hold_until"] or context["starts_at"]
        data = {
            "thing1": thing(context["title"]),
            "phrase2": "候补成功" if context["hold_until"] is None else "请及时付款",
            "time3": _local(deadline, context["timezone"]),
        }
        page = f"pages/meetup/detail?id={context['meetup_id']}"
        result = await send_once(wechat, context["openid"], settings.meetups_promotion_template_id, data, page=page)
    await pool.execute(q.SET_PROMOTION_NOTICE, signup_id, result)
    return result


# --- the checkout purpose ---------------------------------------------------------------------------------------


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """In the payment's transaction (the order is locked): confirm the held place, or take a free one for a
    payment that arrives after its hold lapsed; otherwise refuse (the payment is refunded)."""
    meetup_id = await conn.fetchval(q.SIGNUP_MEETUP, order.subject_id)
    if meetup_id is None:
        return Refuse("signup_unknown", "no such meetup sign-up")
    meetup = await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
    signup = await conn.fetchrow(q.LOCK_SIGNUP, order.subject_id)
    if signup["user_id"] != order.payer_user_id:
        return Refuse("payer_mismatch", "the sign-up is someone else's")
    if meetup["status"] == "cancelled":
        return Refuse("meetup_cancelled", "the meetup was cancelled")
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
    """A payer's or an admin's refund (the order is locked) gives the place up."""
    meetup_id = await conn.fetchval(q.SIGNUP_MEETUP, order.subject_id)
    if meetup_id is None:
        return
    await conn.fetchrow(q.LOCK_MEETUP, meetup_id)
    signup = await conn.fetchrow(q.LOCK_SIGNUP, order.subject_id)
    if signup["status"] in ("confirmed", "pending_payment") and signup["order_id"] == order.id:
        await _cancel(conn, meetup_id, signup, "refunded", _now())


async def _refund_window(conn: asyncpg.Connection, order: PaidOrder) -> timedelta | None:
    """The payer may ask for the money back until the sign-up deadline."""
    meetup_id = await conn.fetchval(q.SIGNUP_MEETUP, order.subject_id)
    meetup = await conn.fetchrow(q.MEETUP, meetup_id) if meetup_id else None
    if meetup is None or order.paid_at is None:
        return None
    return meetup["signup_deadline"] - order.paid_at


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
MEETUP_PURPOSE = Purpose(PURPOSE, on_paid=_on_paid, on_refund=_on_refund, payer_refund_window=_refund_window)
