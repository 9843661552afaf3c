"""Feed pages: latest never repeats nor skips a post while others post concurrently; hot follows the
documented time-decayed score and pages just as stably."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from tests.world import assert_problem

SEED_SQL = """
INSERT INTO posts (community_id, author_id, kind, text, created_at, like_count, comment_count, share_count)
SELECT $1, $2, 'post', 'seeded ' || g, $3::timestamptz - make_interval(secs => (g / 3) * 60),
       ($4::int[])[g], ($5::int[])[g], ($6::int[])[g]
FROM generate_series(1, $7) g
RETURNING id
"""


async def seed(db, cid: str, author: int, count: int, likes=None, comments=None, shares=None, now=None) -> list[int]:
    """Posts in threes sharing a created time (ties broken by id), one minute apart."""
    zeros = [0] * count
    rows = await db.fetch(
        SEED_SQL, int(cid), author, now or datetime.now(UTC), likes or zeros, comments or zeros, shares or zeros, count
    )
    return [row["id"] for row in rows]


async def walk(world, who, cid: str, limit: int, between=None, **params) -> list[str]:
    ids, cursor = [], None
    while True:
        page = await world.feed(who, cid, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        ids += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids
        if between is not None:
            await between()


async def test_latest_pages_neither_repeat_nor_skip_under_concurrent_inserts(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    seeded = await seed(db, cid, bob.id, 61, now=datetime.now(UTC) - timedelta(minutes=1))
    existing = set(await walk(world, alice, cid, 50))
    assert {str(i) for i in seeded} <= existing

    async def others_post() -> None:
        # While alice pages, members post through the API and straight into the table, at the same time.
        await asyncio.gather(
            world.post(bob, cid, "new while paging"),
            world.post(alice, cid, "me too"),
            seed(db, cid, bob.id, 2),
        )

    ids = await walk(world, alice, cid, 7, between=others_post)
    assert len(ids) == len(set(ids)), "a post was repeated"
    assert existing <= set(ids), "a post that existed before paging was skipped"
    created = {r["id"]: r["created_at"] for r in await db.fetch("SELECT id, created_at FROM posts")}
    keys = [(created[int(i)], int(i)) for i in ids]
    assert keys == sorted(keys, reverse=True)


def documented_score(likes: int, comments: int, shares: int, age_hours: float) -> float:
    return (likes + 2 * comments + 3 * shares + 1) * 2 ** (-age_hours / 24)


async def test_hot_follows_the_time_decayed_score(world, db):
    alice = await world.member("alice")
    cid = await world.community(alice)  # no one joined: no welcome post
    now = datetime.now(UTC)
    rows = [  # (likes, comments, shares, age in hours)
        (0, 0, 0, 0.1),
        (10, 0, 0, 0.2),
        (0, 5, 0, 20),
        (0, 0, 9, 48),
        (40, 10, 5, 72),
        (3, 1, 0, 5),
        (1, 0, 0, 1),
        (0, 0, 0, 30),
        (2, 2, 2, 10),
    ]
    ids = []
    for likes, comments, shares, age in rows:
        ids.append(
            await db.fetchval(
                "INSERT INTO posts (community_id, author_id, text, created_at, like_count, comment_count, share_count)"
                " VALUES ($1, $2, 'p', $3, $4, $5, $6) RETURNING id",
                int(cid),
                alice.id,
                now - timedelta(hours=age),
                likes,
                comments,
                shares,
            )
        )
    expected = [
        str(post_id)
        for _, post_id in sorted(
            ((documented_score(*row), post_id) for row, post_id in zip(rows, ids, strict=True)), reverse=True
        )
    ]
    assert await walk(world, alice, cid, 2, order="hot") == expected
    assert math.isclose(documented_score(40, 10, 5, 72), 76 / 8)

    # A like moves a post up at once: the counters live on the row.
    liked = await world.client.put(f"/v1/posts/{ids[0]}/like", headers=alice.headers)
    assert liked.status_code == 200
    rows[0] = (1, 0, 0, 0.1)
    scores = {str(post_id): documented_score(*row) for row, post_id in zip(rows, ids, strict=True)}
    order = [i["id"] for i in (await world.feed(alice, cid, order="hot", limit=50))["items"]]
    assert order == sorted(scores, key=scores.get, reverse=True)
    assert order.index(str(ids[0])) < expected.index(str(ids[0]))

    # New posts while paging do not disturb the pages of the posts that were there.
    async def post_more() -> None:
        await world.post(alice, cid, "fresh")

    walked = await walk(world, alice, cid, 2, between=post_more, order="hot")
    assert len(walked) == len(set(walked)) and set(map(str, ids)) <= set(walked)


async def test_a_cursor_of_one_order_is_refused_by_another(world):
    alice = await world.member("alice")
    cid = await world.community(alice)
    for n in range(3):
        await world.post(alice, cid, f"post {n}")
    hot = (await world.feed(alice, cid, order="hot", limit=1))["nextCursor"]
    response = await world.client.get(f"/v1/communities/{cid}/feed", params={"cursor": hot}, headers=alice.headers)
    assert_problem(response, 400, "validation_failed")
    response = await world.client.get(f"/v1/communities/{cid}/feed", params={"limit": 51}, headers=alice.headers)
    assert_problem(response, 400, "validation_failed")
