"""Presence, for every domain: a member has a community open. Heartbeats (service/interactions) and live sockets
(service/live) both extend the one session of a member in a community, so a member with both never counts
twice in the online-duration and peak-concurrency metrics (docs/metrics.md).

Presence is a member's only: `touch` records nothing for someone who does not stand in the community (an active
member, or on its brand's team), and a departure ends the open session at once (`end`). Both take the same lock,
`end` after the membership changed, so a touch racing a removal either committed first (and is ended) or sees the
removal: a view or heartbeat checked just before the removal never counts the removed member as online.
"""

from __future__ import annotations

import asyncpg

from service.core.access import role_of

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('presence:' || $1 || ':' || $2, 0))"

# The time once the lock is held (taken in the subquery first): the instant a touch records.
LOCKED_NOW = f"SELECT clock_timestamp() FROM ({LOCK}) AS locked"  # noqa: S608 - a constant

STANDING = f"SELECT {role_of('$2', '$1')} IS NOT NULL"  # noqa: S608 - a constant

# The open session, extended while the member stands there: one statement per touch, on the community's shard
# (every table filtered by community_id; the time is a parameter, as Citus takes no volatile function in an UPDATE).
EXTEND = f"""
UPDATE presence_sessions SET last_seen_at = greatest(last_seen_at, $3::timestamptz)
WHERE community_id = $2 AND id = (
    SELECT id FROM presence_sessions
    WHERE user_id = $1 AND community_id = $2 AND last_seen_at >= $3::timestamptz - make_interval(secs => $4)
    ORDER BY last_seen_at DESC LIMIT 1
) AND NOT ended AND {role_of("$2", "$1")} IS NOT NULL
RETURNING id, started_at, last_seen_at
"""  # noqa: S608 - a constant

START = """
INSERT INTO presence_sessions (community_id, user_id, started_at, last_seen_at) VALUES ($2, $1, $3, $3)
RETURNING id, started_at, last_seen_at
"""

# Only the latest session can be open: a touch extends it or, after a gap, starts a newer one.
END = """
UPDATE presence_sessions SET ended = true
WHERE community_id = $2 AND id = (
    SELECT id FROM presence_sessions WHERE user_id = $1 AND community_id = $2 ORDER BY last_seen_at DESC LIMIT 1
) AND NOT ended
"""

# Members seen in the community within the gap: the "online" count live sockets show.
ONLINE = """
SELECT count(DISTINCT user_id) FROM presence_sessions
WHERE community_id = $1 AND last_seen_at >= clock_timestamp() - make_interval(secs => $2) AND NOT ended
"""


async def touch(conn: asyncpg.Connection, user_id: int, community_id: int, gap_seconds: float) -> asyncpg.Record | None:
    """Extend the member's open session in the community, or start one after a gap; the session row
    (``started_at == last_seen_at`` when it started now), or None when they do not stand there (nothing recorded)."""
    async with conn.transaction():
        now = await conn.fetchval(LOCKED_NOW, str(user_id), str(community_id))
        row = await conn.fetchrow(EXTEND, user_id, community_id, now, float(gap_seconds))
        # Not extended: a new session after a gap, or nothing for someone who does not stand there (the standing
        # is read only then, the usual touch extending one in a single statement).
        if row is None and await conn.fetchval(STANDING, user_id, community_id):
            row = await conn.fetchrow(START, user_id, community_id, now)
    return row


async def end(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """The member left or was removed (call it in that transaction, after the membership changed): their open
    session there ends now, no longer online, and a return starts a new one."""
    await conn.execute(LOCK, str(user_id), str(community_id))
    await conn.execute(END, user_id, community_id)


async def online(conn: asyncpg.Connection, community_id: int, gap_seconds: float) -> int:
    return await conn.fetchval(ONLINE, community_id, float(gap_seconds))
