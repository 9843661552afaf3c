"""Venue check-in: the rotating code admins show, and members checking in with it inside the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from litestar import Response

from service.core.interactions import record
from service.errors import Problem
from service.meetups import models as m
from service.meetups import queries as q
from service.meetups import venue
from service.meetups.logic import _invalid, _json, _meetup_for, _now, _signup_view
from service.settings import Settings


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
        signup = await conn.fetchrow(q.LOCK_SIGNUP_OF, meetup["community_id"], meetup_id, user_id)
        if signup is None or signup["status"] != "confirmed":
            raise Problem("not_signed_up")
        first = await conn.fetchval(q.MARK_ATTENDED, signup["id"], now, "qr" if data.qr is not None else "code")
        if first:
            await record(conn, meetup["community_id"], user_id, "attendance", occurred_at=now)
        return _json(201 if first else 200, await _signup_view(conn, signup["id"]))
