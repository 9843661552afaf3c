"""Throughput comparisons that are not one request repeated: each against its own same-run baseline.

- Event ingestion through `POST /v1/events` (batches of 100, wrk) against asyncpg COPY of as many events
  into the same table.
- The metrics of one community (100 members, 100k posts, 400k comments and 1 M raw events over 30 days) against a
  bare `count(*)` over its events, with the speech read from the posts and comments themselves beside it.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg

from benchmarks.scenarios import Request, seed_users
from service.core.tokens import issue_access_token
from service.interactions import logic
from service.settings import Settings

BATCH = 100
METRIC_EVENTS = 1_000_000
METRIC_POSTS = 100_000
METRIC_COMMENTS = 400_000

INGEST_LUA = """
local counter = 0
request = function()
  local parts = {{}}
  for i = 1, {batch} do
    counter = counter + 1
    parts[i] = string.format('{{"id":"w%d","type":"post_view","communityId":"{community}","postId":"{post}",'
      .. '"at":"{at}","dwellMs":4000}}', counter)
  end
  return wrk.format("POST", "/v1/events", {{["Authorization"] = "Bearer {token}",
    ["Content-Type"] = "application/json"}}, '{{"events":[' .. table.concat(parts, ",") .. ']}}')
end
"""


async def seed_community(conn: asyncpg.Connection, members: int, posts: int) -> tuple[int, list[int], list[int]]:
    users = await seed_users(conn, members)
    community = await conn.fetchval(
        "INSERT INTO communities (owner_id, name, welcome_template, member_cap, member_count) "
        "VALUES ($1, 'metrics', 'Welcome', 500, $2) RETURNING id",
        users[0],
        members,
    )
    await conn.execute(
        "INSERT INTO memberships (community_id, user_id, role, via) "
        "SELECT $1, u, CASE WHEN u = $3 THEN 'owner' ELSE 'member' END, CASE WHEN u = $3 THEN 'owner' ELSE 'free' END "
        "FROM unnest($2::bigint[]) u ON CONFLICT DO NOTHING",
        community,
        users,
        users[0],
    )
    post_ids = [
        r["id"]
        for r in await conn.fetch(
            "INSERT INTO posts (community_id, author_id, text, created_at) "
            "SELECT $1, $2, 'a post worth reading ' || g, now() - make_interval(mins => g) "
            "FROM generate_series(1, $3) g RETURNING id",
            community,
            users[1],
            posts,
        )
    ]
    return community, users, post_ids


async def seed_ingestion(conn: asyncpg.Connection, settings: Settings) -> tuple[Request, tuple[int, int, int]]:
    """The wrk request (batches of 100 new post views) and (community, member, post) for the COPY twin."""
    community, users, posts = await seed_community(conn, 10, 10)
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    token = issue_access_token(settings, users[2])
    script = INGEST_LUA.format(batch=BATCH, community=community, post=posts[0], at=at, token=token)
    return Request("/v1/events", method="POST", script=script), (community, users[2], posts[0])


async def copy_events(conn: asyncpg.Connection, count: int, community: int, user: int, post: int) -> float:
    """Seconds to COPY `count` events like the API's into interaction_events."""
    at = datetime.now(UTC) - timedelta(hours=1)
    records = [(community, user, "post_view", post, f"post:{post}", 4000, f"copy{n}", at) for n in range(count)]
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "interaction_events",
        records=records,
        columns=["community_id", "user_id", "kind", "post_id", "target", "dwell_ms", "client_event_id", "occurred_at"],
    )
    return time.perf_counter() - started


# Speech over the last 30 days, spread over the 100 members: 1 in 100 rows repeats one of its author's three
# favourite sentences (the repeats the metrics take off), 1 in 37 is too short, 1 in 50 has a photo, some are
# held for review or deleted. Comments go under the posts in turn. Written through the triggers, as the service
# writes them.
SPEECH_POSTS = """
INSERT INTO posts (community_id, author_id, text, image_ids, status, deleted_at, created_at)
SELECT $1, ($2::bigint[])[1 + g % 100],
       CASE WHEN (g / 100) % 100 = 0 THEN 'Same words again, ' || g % 3 WHEN g % 37 = 0 THEN 'hi'
            ELSE 'a post worth reading ' || g END,
       CASE WHEN g % 50 = 0 THEN '{1}'::bigint[] ELSE '{}' END, CASE WHEN g % 97 = 0 THEN 'pending' ELSE 'visible' END,
       CASE WHEN g % 89 = 0 THEN now() END, now() - make_interval(secs => (g * 2592000.0 / $3))
FROM generate_series(1, $3) g
"""

SPEECH_COMMENTS = """
INSERT INTO comments (community_id, post_id, author_id, text, image_id, status, deleted_at, created_at)
SELECT $1, $4 + g % $5, ($2::bigint[])[1 + (g * 7) % 100],
       CASE WHEN (g / 100) % 100 = 0 THEN 'same   words AGAIN, ' || g % 3 WHEN g % 37 = 0 THEN 'ok'
            ELSE 'a comment worth reading ' || g END,
       CASE WHEN g % 50 = 0 THEN 1 END, CASE WHEN g % 97 = 0 THEN 'pending' ELSE 'visible' END,
       CASE WHEN g % 89 = 0 THEN now() END, now() - make_interval(secs => (g * 2592000.0 / $3))
FROM generate_series(1, $3) g
"""


async def seed_metrics(conn: asyncpg.Connection, settings: Settings) -> int:
    """One community with 100 members, 100k posts, 400k comments and 1 M view events over 30 days, rolled up."""
    community, users, posts = await seed_community(conn, 100, 1000)
    await conn.execute(SPEECH_POSTS, community, users, METRIC_POSTS - len(posts))
    first = await conn.fetchval("SELECT min(id) FROM posts WHERE community_id = $1", community)
    await conn.execute(SPEECH_COMMENTS, community, users, METRIC_COMMENTS, first, METRIC_POSTS)
    await conn.execute(
        "INSERT INTO interaction_events (community_id, user_id, kind, post_id, target, dwell_ms, occurred_at) "
        "SELECT $1, ($2::bigint[])[1 + g % 100], CASE WHEN g % 5 = 0 THEN 'page_view' ELSE 'post_view' END, "
        "       ($3::bigint[])[1 + (g * 7) % 1000], 'post:' || ($3::bigint[])[1 + (g * 7) % 1000], (g * 13) % 9000, "
        "       now() - make_interval(secs => (g % 2592000)) "
        "FROM generate_series(1, $4) g",
        community,
        users,
        posts,
        METRIC_EVENTS,
    )
    await conn.execute(
        "INSERT INTO presence_sessions (community_id, user_id, started_at, last_seen_at) "
        "SELECT $1, ($2::bigint[])[1 + g % 100], now() - make_interval(mins => g * 7), "
        "       now() - make_interval(mins => g * 7) + interval '5 minutes' FROM generate_series(1, 6000) g",
        community,
        users,
    )
    await logic.rebuild(conn, settings)  # analyses what it reads first
    await conn.execute("ANALYZE")
    return community


async def time_metrics(conn: asyncpg.Connection, settings: Settings, community: int, rounds: int = 15) -> dict:
    today = datetime.now(UTC).date()
    start: date = today - timedelta(days=30)

    async def median(action, rounds: int = rounds) -> float:
        samples = []
        for _ in range(rounds):
            began = time.perf_counter()
            await action()
            samples.append(time.perf_counter() - began)
        return statistics.median(samples)

    count_s = await median(
        lambda: conn.fetchval("SELECT count(*) FROM interaction_events WHERE community_id = $1", community)
    )
    metrics_s = await median(lambda: logic.compute_metrics(conn, settings, community, start, today, "day"))
    new = await logic.compute_metrics(conn, settings, community, start, today, "day")
    old = await logic.compute_metrics(conn, settings, community, start, today, "day", exact=True)
    assert new == old, "the speech roll-up and the rows themselves disagree"
    # The speech read from the posts and comments themselves, as before the roll-up: seconds, so 3 rounds.
    exact_s = await median(
        lambda: logic.compute_metrics(conn, settings, community, start, today, "day", exact=True), rounds=3
    )
    rows = await conn.fetchval("SELECT count(*) FROM interaction_events WHERE community_id = $1", community)
    speech = await conn.fetchval(
        "SELECT (SELECT count(*) FROM posts WHERE community_id = $1) + "
        "(SELECT count(*) FROM comments WHERE community_id = $1)",
        community,
    )
    return {
        "rows": rows,
        "speech": speech,
        "count_ms": count_s * 1000,
        "metrics_ms": metrics_s * 1000,
        "exact_ms": exact_s * 1000,
        "total": new[1],
    }
