"""Presence, for every domain: a member has a community open. Heartbeats (service/interactions) and live sockets
(service/live) both extend the one session of a member in a community, so a member with both never counts
twice in the online-duration and peak-concurrency metrics (docs/metrics.md)."""

from __future__ import annotations

import asyncpg

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('presence:' || $1 || ':' || $2, 0))"

EXTEND = """
UPDATE presence_sessions SET last_seen_at = greatest(last_seen_at, $3::timestamptz)
WHERE id = (
    SELECT id FROM presence_sessions
    WHERE user_id = $1 AND community_id = $2 AND last_seen_at >= $3::timestamptz - make_interval(secs => $4)
    ORDER BY last_seen_at DESC LIMIT 1
)
RETURNING id, started_at, last_seen_at
"""

START = """
INSERT INTO presence_sessions (community_id, user_id, started_at, last_seen_at) VALUES ($2, $1, $3, $3)
RETURNING id, started_at, last_seen_at
"""

# Members seen in the community within the gap: the "online" count live sockets show.
ONLINE = """
SELECT count(DISTINCT user_id) FROM presence_sessions
WHERE community_id = $1 AND last_seen_at >= clock_timestamp() - make_interval(secs => $2)
"""


async def touch(conn: asyncpg.Connection, user_id: int, community_id: int, gap_seconds: float) -> asyncpg.Record:
    """Extend the member's open session in the community, or start one after a gap; the session row
    (``started_at == last_seen_at`` when it started now)."""
    async with conn.transaction():
        await conn.execute(LOCK, str(user_id), str(community_id))
        now = await conn.fetchval("SELECT clock_timestamp()")
        row = await conn.fetchrow(EXTEND, user_id, community_id, now, float(gap_seconds))
        if row is None:
            row = await conn.fetchrow(START, user_id, community_id, now)
    return row


async def online(conn: asyncpg.Connection, community_id: int, gap_seconds: float) -> int:
    return await conn.fetchval(ONLINE, community_id, float(gap_seconds))
