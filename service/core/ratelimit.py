"""Fixed-window rate limits kept in PostgreSQL (table `rate_limits`), so every API instance counts together.

`hit(conn, {bucket: limit}, window)` counts one hit in each bucket and raises 429 `rate_limited`, with
Retry-After the seconds until the window ends, when any bucket is over its limit. Login limits callers per
address and per code (service.auth); the feed limits every member's writing (service.feed.limits).
`refund` takes a hit back: a bucket charged up front (so concurrent attempts cannot all slip past the count)
can then count only the attempts that failed. Each bucket keeps its window's length: the clean-up
(`STALE`) drops it only once that window has passed.
"""

from __future__ import annotations

import asyncpg

from service.errors import Problem

# One bucket per statement, its row from VALUES: Citus takes no parameter in the ON CONFLICT or RETURNING of an
# INSERT ... SELECT (it re-plans that part without them: "there is no parameter $2"), and only immutable functions
# in DO UPDATE SET or RETURNING: now() comes as the inserted row's, and the window is compared as the interval
# between two instants (timestamptz - timestamptz is immutable; timestamptz - interval is not). Same on one server.
HIT = """
INSERT INTO rate_limits AS r (bucket, window_start, hits, window_seconds)
VALUES ($1, now(), 1, $2)
ON CONFLICT (bucket) DO UPDATE
SET window_start = CASE WHEN EXCLUDED.window_start - r.window_start >= make_interval(secs => $2)
                        THEN EXCLUDED.window_start ELSE r.window_start END,
    hits = CASE WHEN EXCLUDED.window_start - r.window_start >= make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END,
    window_seconds = EXCLUDED.window_seconds
RETURNING hits
"""
# Only for a refused hit: Citus takes no now() in RETURNING either.
RETRY_AFTER = """
SELECT greatest(1, ceil(extract(epoch FROM window_start + make_interval(secs => $2) - now())))::int
FROM rate_limits WHERE bucket = $1
"""


async def hit(conn: asyncpg.Connection, limits: dict[str, int], window: int, detail: str) -> None:
    """Every bucket counts the hit (one statement each, usually one or two), then any over its limit refuses."""
    over = [bucket for bucket, limit in limits.items() if await conn.fetchval(HIT, bucket, window) > limit]
    if over:
        retry_after = max([await conn.fetchval(RETRY_AFTER, bucket, window) for bucket in over])
        raise Problem("rate_limited", detail, retry_after=retry_after)


# The seconds left in the window of bucket $1 when it has no hit left ($2 the limit, $3 the window), else no row.
FULL = """
SELECT greatest(1, ceil(extract(epoch FROM window_start + make_interval(secs => $3) - now())))::int
FROM rate_limits WHERE bucket = $1 AND hits >= $2 AND now() - window_start < make_interval(secs => $3)
"""


async def refuse_if_full(conn: asyncpg.Connection, bucket: str, limit: int, window: int, detail: str) -> None:
    """Raise `rate_limited` when the next hit of ``bucket`` would be refused, counting nothing: for a limit `hit`
    only once the work is done, read before costly work (WeChat's content check) so a member past it costs none."""
    retry_after = await conn.fetchval(FULL, bucket, limit, window)
    if retry_after is not None:
        raise Problem("rate_limited", detail, retry_after=retry_after)


REFUND = "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND hits > 0"
# Buckets whose own window has passed (the next hit would start a new one anyway).
# Compared as the interval between two instants, as HIT does: Citus calls no stable function with a column.
STALE = "DELETE FROM rate_limits WHERE now() - window_start > make_interval(secs => window_seconds)"


async def refund(conn: asyncpg.Connection, bucket: str) -> None:
    await conn.execute(REFUND, bucket)
