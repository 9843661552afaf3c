"""Fixed-window rate limits kept in PostgreSQL (table `rate_limits`), so every API instance counts together.

`hit(conn, {bucket: limit}, window)` counts one hit in each bucket and raises 429 `rate_limited`, with
Retry-After the seconds until the window ends, when any bucket is over its limit. Login limits callers per
address and per code (service.auth); the feed limits every member's writing (service.feed.limits).
`refund` takes a hit back: a bucket charged up front (so concurrent attempts cannot all slip past the count)
can then count only the attempts that failed.
"""

from __future__ import annotations

import asyncpg

from service.errors import Problem

HIT = """
INSERT INTO rate_limits AS r (bucket, window_start, hits)
SELECT bucket, now(), 1 FROM unnest($1::text[]) AS bucket
ON CONFLICT (bucket) DO UPDATE  -- now() as the inserted row's: Citus takes no now() in DO UPDATE SET
SET window_start = CASE WHEN r.window_start <= EXCLUDED.window_start - make_interval(secs => $2)
                        THEN EXCLUDED.window_start ELSE r.window_start END,
    hits = CASE WHEN r.window_start <= EXCLUDED.window_start - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END
RETURNING bucket, hits,
          greatest(1, ceil(extract(epoch FROM r.window_start + make_interval(secs => $2) - now())))::int AS retry_after
"""


async def hit(conn: asyncpg.Connection, limits: dict[str, int], window: int, detail: str) -> None:
    rows = await conn.fetch(HIT, list(limits), window)
    over = [row for row in rows if row["hits"] > limits[row["bucket"]]]
    if over:
        raise Problem("rate_limited", detail, retry_after=max(row["retry_after"] for row in over))


REFUND = "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND hits > 0"


async def refund(conn: asyncpg.Connection, bucket: str) -> None:
    await conn.execute(REFUND, bucket)
