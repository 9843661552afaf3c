"""Community apps, for every domain that is one: is an app on in a community (`require_app`)?

An app is on when the owner's switch is on (the default) and the app is free, bought once, or paid up to a
date in the future: SQL function `community_app_active`, the one definition routes and jobs use (`app_active`
below is its body for the statements Citus must run).
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from service.core.access import require_admin, require_member
from service.errors import Problem

# app -> (name members read, what it does)
APPS: dict[str, tuple[str, str]] = {
    "robots": ("关键词机器人", "Keyword auto-reply robots in the feed and customer-service messages."),
    "polls": ("命名投票", "Product naming polls: proposals, votes and free trials for the winners."),
    "collections": ("群收款", "Group collections: members pay their share through WeChat Pay."),
    "activities": ("主题打卡", "Recurring theme activities with daily or weekly check-ins, streaks and rankings."),
    "meetups": ("线上线下活动", "Online and offline meetups: sign-ups, waitlist, fees, venue check-in, reminders."),
    "warmup": ("暖场机器人", "Posts a topic from the admins' list when the community goes quiet."),
}


def app_active(community: str, app: str) -> str:
    """The body of SQL function `community_app_active` (migration 0010) as an expression, for statements that
    Citus runs: it plans no SQL function over a distributed table called with parameters (nor nests one in a
    query it sends to a shard), but routes this like any other condition on the community's row.
    ``community``/``app``: SQL of the statement (a parameter, a column, a constant), never a value."""
    return f"""(SELECT coalesce(ca.enabled, true)
           AND (p.app IS NULL OR coalesce(ca.purchased, false) OR coalesce(ca.paid_until > now(), false))
    FROM (SELECT {app}::text AS app) a
    LEFT JOIN community_apps ca ON ca.community_id = {community} AND ca.app = a.app
    LEFT JOIN app_prices p ON p.app = a.app)"""  # noqa: S608


APP_ACTIVE = f"SELECT {app_active('$1', '$2')}"

# Every app of the catalogue ($2) in one community: the owner's switch, what was paid, the current price.
APP_STATES = """
SELECT a.app, ca.id AS community_app_id, ca.enabled, coalesce(ca.purchased, false) AS purchased, ca.paid_until,
       p.billing, p.price_fen
FROM unnest($2::text[]) WITH ORDINALITY AS a(app, n)
LEFT JOIN community_apps ca ON ca.community_id = $1 AND ca.app = a.app
LEFT JOIN app_prices p ON p.app = a.app
ORDER BY a.n
"""


def _now() -> datetime:
    return datetime.now(UTC)


async def require_app(conn: asyncpg.Connection, community_id: int, app: str) -> None:
    """Raise `app_disabled` unless ``app`` is on in the community. Call it after the membership check in every
    route of the app (its reads too), and in the app's jobs before they act for a community."""
    if app not in APPS:
        raise ValueError(f"unknown app {app!r}")
    if await conn.fetchval(APP_ACTIVE, community_id, app):
        return
    (row,) = await conn.fetch(APP_STATES, community_id, [app])
    state = app_state(row, _now())
    name = APPS[app][0]
    if state == "disabled":
        raise Problem("app_disabled", f"the owner switched {name} ({app}) off in this community")
    if state == "expired":
        raise Problem("app_disabled", f"{name} ({app}) was paid until {row['paid_until'].isoformat()}")
    raise Problem("app_disabled", f"{name} ({app}) must be paid for before it can be used here")


async def require_app_member(
    conn: asyncpg.Connection, community_id: int, user_id: int, app: str, *, admin: bool = False
) -> asyncpg.Record:
    """The caller's standing as an active member (an admin, when asked) of a community where ``app`` is on.
    Membership is checked first, so a stranger learns nothing of the community's apps."""
    standing = await (require_admin if admin else require_member)(conn, community_id, user_id)
    await require_app(conn, community_id, app)
    return standing


def app_state(row: asyncpg.Record, now: datetime) -> str:
    enabled = True if row["enabled"] is None else row["enabled"]
    if not enabled:
        return "disabled"
    paid = row["purchased"] or (row["paid_until"] is not None and row["paid_until"] > now)
    if row["billing"] is None or paid:
        return "enabled"
    return "expired" if row["paid_until"] is not None else "payment_required"
