"""The `interests.extract` job: read what members wrote since the last run and weigh its keywords.

Sources, each read in id order from where the last run stopped (`interest_progress`): posts (check-ins are posts
too), comments and poll proposals, by members only (robots have no interests). A visible text counts; a deleted,
refused or hidden one (by reports or moderators) is skipped; one still held for review stops the reading of its
source until WeChat decided (at most PENDING_GRACE, then it is skipped). Each text's keywords (segmenter.py) add
2^(-age / HALF_LIFE) to the author's weight for that tag in the community: a weight is a decayed count of texts, so
interests fade unless renewed. Each member keeps their top MEMBER_TAGS tags (none under MIN_WEIGHT); each community
touched gets its top COMMUNITY_TAGS recomputed over its active members. A post's keywords are kept as its tags (the
for-you feed). The progress row is locked in the batch's transaction: two workers never count a text twice.

Ids are taken at insert but rows are seen at commit, so a row may appear under an id already read. The cursor
therefore reads only up to a final id: a source's highest id becomes final once every transaction that was writing
to its table when it was read has ended (an INSERT locks the table before it takes its id and until it ends, and
pg_locks lists them). With no writer it is final at once; otherwise at a later run. On Citus this sees the writes
that go through the coordinator (which locks the distributed table there), not those sent to a worker directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta

import asyncpg

from service.core.revocation import hold_accounts
from service.interests import queries as q
from service.interests.segmenter import keywords

log = logging.getLogger("service.interests")

HALF_LIFE = timedelta(days=30)
MEMBER_TAGS = 20
COMMUNITY_TAGS = 50
MIN_WEIGHT = 0.1  # one text about 100 days ago
BATCH = 500
ROUNDS = 10  # batches per source per run
PENDING_GRACE = timedelta(hours=1)


def _weights(
    rows: list[asyncpg.Record], tags: dict[int, list[str]]
) -> dict[tuple[int, int, str], tuple[float, datetime]]:
    """Per (community, member, tag): the batch's decayed count as of its latest text."""
    times: dict[tuple[int, int, str], list[datetime]] = defaultdict(list)
    for row in rows:
        for tag in tags.get(row["id"], ()):
            times[(row["community_id"], row["user_id"], tag)].append(row["created_at"])
    half_life = HALF_LIFE.total_seconds()
    return {
        key: (sum(2 ** (-(max(at) - t).total_seconds() / half_life) for t in at), max(at)) for key, at in times.items()
    }


def _final(progress: asyncpg.Record, horizon: asyncpg.Record) -> tuple[int, int | None, list[str] | None]:
    """The final id (no transaction can still add a row at or below it) and the horizon left waiting (id, writers),
    from the stored progress and ``horizon``, a source's highest id and writers read now."""
    final, waiting = progress["final_id"], (progress["horizon_id"], progress["horizon_writers"])
    if waiting[0] is not None and progress["horizon_done"]:
        final, waiting = max(final, waiting[0]), (None, None)
    if not horizon["writers"]:
        final = max(final, horizon["id"])
    elif waiting[0] is None:
        waiting = (horizon["id"], horizon["writers"])  # one already waiting ends sooner: kept
    return final, *waiting


async def _batch(conn: asyncpg.Connection, source: str) -> tuple[int, set[int]]:
    """One batch of one source in the caller's transaction: texts read, communities touched."""
    await conn.execute(q.ENSURE_PROGRESS, source)
    progress = await conn.fetchrow(q.LOCK_PROGRESS, source)
    if progress is None:
        return 0, set()  # another worker is reading it
    last_id = progress["last_id"]
    final, horizon_id, writers = _final(progress, await conn.fetchrow(q.HORIZONS[source]))
    rows = []
    for row in await conn.fetch(q.SOURCES[source], last_id, BATCH, PENDING_GRACE, final):
        if row["state"] == "wait":
            break
        rows.append(row)
    if rows:
        last_id = rows[-1]["id"]
    await conn.execute(q.SET_PROGRESS, source, last_id, final, horizon_id, writers)
    if not rows:
        return 0, set()
    counted = [row for row in rows if row["state"] == "count"]
    # The posts of an erased account stay (under the tombstone): its texts not yet read weigh for no one.
    standing = await hold_accounts(conn, sorted({row["user_id"] for row in counted}))
    # jieba is pure Python: off the event loop, so the worker's heartbeats and other jobs go on meanwhile (its
    # dictionary loads here the first time, seconds).
    tags = await asyncio.to_thread(lambda: {row["id"]: keywords(row["text"]) for row in counted})
    weights = _weights([row for row in counted if row["user_id"] in standing], tags)
    half_life = HALF_LIFE.total_seconds()
    if weights:
        keys = list(weights)
        await conn.execute(
            q.ADD_WEIGHTS,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [weights[k][0] for k in keys],
            [weights[k][1] for k in keys],
            half_life,
        )
        members = sorted({(k[0], k[1]) for k in keys})
        await conn.execute(
            q.PRUNE_MEMBERS, [c for c, _ in members], [u for _, u in members], MEMBER_TAGS, MIN_WEIGHT, half_life
        )
    post_tags = [(row["community_id"], row["id"], tag) for row in counted if row["is_post"] for tag in tags[row["id"]]]
    if post_tags:
        await conn.execute(q.ADD_POST_TAGS, *map(list, zip(*post_tags, strict=True)))
    return len(rows), {k[0] for k in weights}


async def extract(pool: asyncpg.Pool) -> int:
    """The job: every source up to date (at most ROUNDS batches each), then the touched communities' top tags.
    Returns the texts read."""
    read, touched = 0, set()
    for source in q.SOURCES:
        for _ in range(ROUNDS):
            async with pool.acquire() as conn, conn.transaction():
                count, communities = await _batch(conn, source)
            read += count
            touched |= communities
            if count < BATCH:
                break
    if touched:
        async with pool.acquire() as conn, conn.transaction():
            communities = sorted(touched)
            await conn.execute(q.CLEAR_COMMUNITIES, communities)
            await conn.execute(q.COMPUTE_COMMUNITIES, communities, COMMUNITY_TAGS, HALF_LIFE.total_seconds())
        log.info("interests extracted", extra={"texts": read, "communities": len(touched)})
    return read
