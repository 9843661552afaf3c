"""The rules of theme activities and check-ins, and what their parts share (access, schedules). The parts:
occurrences.py (generation, announcements), manage.py (activities), checkins.py (check-ins, streaks, ranking).

- Occurrences are generated ahead (ACTIVITIES_HORIZON_DAYS) from the schedule in the community's time zone,
  idempotently (one per activity and local day), and announced by the robot when their window opens.
- A member checks in once per occurrence, inside its window; the check-in is a post of kind 'check_in',
  content-checked first, recorded as the interaction 'check_in' in the same transaction.
- A streak is a run of consecutive occurrences checked into: a missed occurrence breaks it. Each check-in
  stores the run it completes, so longest and current streaks and the ranking are plain aggregates.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import asyncpg

from service.activities import queries as q
from service.core.access import ADMIN_ROLES, require_member
from service.core.apps import require_app, require_app_member
from service.core.recurrence import (
    Schedule,
)
from service.errors import FieldError, Problem

log = logging.getLogger("service.activities")


APP = "activities"
ROBOT = "activities"
ANNOUNCE_BATCH = 200
GENERATE_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(errors: list[tuple[str, str]]) -> Problem:
    return Problem(
        "validation_failed",
        "invalid activity",
        errors=[FieldError(field=field, message=message, source="body") for field, message in errors],
    )


def _schedule(row: asyncpg.Record | dict) -> Schedule:
    return Schedule(
        recurrence=row["recurrence"],
        weekdays=frozenset(row["weekdays"]),
        dates=frozenset(row["dates"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        window_start=row["window_start"],
        window_end=row["window_end"],
    )


def _check_schedule(values: dict, today: date | None) -> None:
    """The schedule as a whole; `today` (local) when the start must not be in the past."""
    errors: list[tuple[str, str]] = []
    recurrence = values["recurrence"]
    if recurrence == "weekly" and not values["weekdays"]:
        errors.append(("weekdays", "required when recurrence is weekly"))
    if recurrence != "weekly" and values["weekdays"]:
        errors.append(("weekdays", "only for a weekly recurrence"))
    if recurrence == "dates" and not values["dates"]:
        errors.append(("dates", "required when recurrence is dates"))
    if recurrence != "dates" and values["dates"]:
        errors.append(("dates", "only for a recurrence of dates"))
    if values["window_start"] == values["window_end"]:
        errors.append(("windowEnd", "must differ from windowStart"))
    if today is not None and values["starts_on"] < today:
        errors.append(("startsOn", f"must not be before today ({today.isoformat()} in the community's zone)"))
    if values["ends_on"] is not None and values["ends_on"] < values["starts_on"]:
        errors.append(("endsOn", "must not be before startsOn"))
    if recurrence == "dates" and values["dates"] and today is not None and max(values["dates"]) < today:
        errors.append(("dates", "every date is in the past"))
    if errors:
        raise _invalid(errors)


# --- access ------------------------------------------------------------------------------------------------------


async def _activity_for(
    conn: asyncpg.Connection, activity_id: int, user_id: int, *, admin: bool = False, lock: bool = False
) -> asyncpg.Record:
    """The activity, for an active member of its community (anyone else: `not_found`), with the app on."""
    row = await conn.fetchrow(q.ACTIVITY, activity_id)
    if row is None:
        raise Problem("not_found", "no such activity")
    if lock:
        row = await conn.fetchrow(q.LOCK_ACTIVITY, row["community_id"], activity_id)
    try:
        standing = await require_member(conn, row["community_id"], user_id)
    except Problem as exc:
        if exc.code == "not_member":
            raise Problem("not_found", "no such activity") from None
        raise
    await require_app(conn, row["community_id"], APP)
    if admin and standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the community's admins manage its activities")
    return row


async def _admin_in(conn: asyncpg.Connection, community_id: int, user_id: int) -> str:
    """The community's time zone, for one of its admins, with the app on."""
    await require_app_member(conn, community_id, user_id, APP, admin=True)
    return await conn.fetchval(q.COMMUNITY_TIME_ZONE, community_id)
