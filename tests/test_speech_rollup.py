"""The speech roll-up (migration 0029) gives exactly what the definition computed from the posts and comments
themselves gives: after random writes, moderation, deletions, edits, erasure, hard deletes and concurrent repeats,
for windows in zones with and without daylight saving, by day, week and month, and per member for rewards."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.communities.profile_queries import VALID_SPEECH as PROFILE_SPEECH
from service.core.speech import valid_speech_by_member
from service.db import migrate as migrations
from service.db.pool import connect
from service.interactions import logic
from service.interactions import queries as q
from tests.support import create_database, drop_database, make_settings, unique_name, with_database

START = datetime(2026, 3, 1, tzinfo=UTC)  # America/New_York starts daylight saving on 8 March 2026
TEXTS = ["Hello world", "hello   WORLD", " hello world ", "hello\tworld", "hi", "ok", "", "Another thing", "a  b c"]
EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
PROFILE_SPEECH_EXACT = valid_speech_by_member("AND author_id = $4")
ZONES = ("Asia/Shanghai", "America/New_York", "Asia/Kolkata")  # UTC+8; daylight saving; UTC+05:30


async def seed_people(conn: asyncpg.Connection) -> tuple[list[int], list[int]]:
    users = [
        r["id"]
        for r in await conn.fetch(
            "INSERT INTO users (appid, openid) SELECT 'wx-test-app', 'u' || g FROM generate_series(1, 5) g RETURNING id"
        )
    ]
    communities = [
        r["id"]
        for r in await conn.fetch(
            "INSERT INTO communities (owner_id, name, welcome_template) "
            "SELECT $1, 'c' || g, '' FROM generate_series(1, 2) g RETURNING id",
            users[0],
        )
    ]
    return users, communities


async def write_randomly(conn: asyncpg.Connection, rng: random.Random, users: list[int], communities: list[int]):
    """Posts and comments with repeats, ties, photos, every status; some by robots."""
    posts: list[tuple[int, int]] = []
    for _ in range(160):
        community = rng.choice(communities)
        at = START + timedelta(minutes=rng.randrange(0, 20 * 24 * 60, rng.choice((1, 7, 600))))
        author = rng.choice(users[:4]) if rng.random() > 0.05 else None
        status = rng.choice(("visible",) * 6 + ("pending", "rejected"))
        deleted = START if rng.random() < 0.1 else None
        if not posts or rng.random() < 0.4:
            images = ["https://img.example/x.png"] * rng.choice((0, 0, 0, 1, 2))
            ids = [1] * rng.choice((0, 0, 0, 1))
            row = await conn.fetchrow(
                "INSERT INTO posts (community_id, author_id, robot, text, image_urls, image_ids, status, created_at,"
                " deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, community_id",
                community,
                author,
                None if author else "welcome",
                rng.choice(TEXTS),
                images,
                ids,
                status,
                at,
                deleted,
            )
            posts.append((row["id"], row["community_id"]))
        else:
            post, community = rng.choice(posts)
            await conn.execute(
                "INSERT INTO comments (community_id, post_id, author_id, robot, text, image_id, status, created_at,"
                " deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                community,
                post,
                author,
                None if author else "welcome",
                rng.choice(TEXTS),
                rng.choice((None, None, None, 7)),
                status,
                at,
                deleted,
            )


async def change_randomly(conn: asyncpg.Connection, rng: random.Random, users: list[int]) -> None:
    """What the service does to speech after the fact, each on random rows."""
    for table in ("posts", "comments"):
        ids = [r["id"] for r in await conn.fetch(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608
        for row_id in rng.sample(ids, len(ids) // 3):
            change = rng.choice(("status", "delete", "edit", "unpicture", "move"))
            if change == "status":
                status = rng.choice(("visible", "pending", "rejected"))
                await conn.execute(f"UPDATE {table} SET status = $2 WHERE id = $1", row_id, status)  # noqa: S608
            elif change == "delete":
                await conn.execute(f"UPDATE {table} SET deleted_at = now() WHERE id = $1", row_id)  # noqa: S608
            elif change == "edit":
                await conn.execute(f"UPDATE {table} SET text = $2 WHERE id = $1", row_id, rng.choice(TEXTS))  # noqa: S608
            elif change == "move":  # another time (an import, a fix by hand)
                shift = timedelta(hours=rng.randrange(-48, 48))
                await conn.execute(f"UPDATE {table} SET created_at = created_at + $2 WHERE id = $1", row_id, shift)  # noqa: S608
            elif table == "posts":
                await conn.execute("UPDATE posts SET image_urls = '{}', image_ids = '{}' WHERE id = $1", row_id)
            else:
                await conn.execute("UPDATE comments SET image_id = NULL WHERE id = $1", row_id)
    # Erasure takes an author's photos at once; some comments go for good.
    await conn.execute("UPDATE posts SET image_ids = '{}', image_urls = '{}' WHERE author_id = $1", users[1])
    await conn.execute("DELETE FROM comments WHERE id % 5 = 0")


async def assert_same(conn: asyncpg.Connection, communities: list[int], windows: int, rng: random.Random) -> None:
    """The roll-up's figures are the rows' own, for random windows of local days in the roll-up's zone."""
    zone = await conn.fetchval(q.SPEECH_ZONE)
    for _ in range(windows):
        first = (START - timedelta(days=2)).date() + timedelta(days=rng.randrange(0, 20))
        last = first + timedelta(days=rng.randrange(0, 25))
        start, _ = logic.day_bounds(first, zone)
        _, end = logic.day_bounds(last, zone)
        for community in communities:
            for granularity in ("day", "week", "month"):
                args = (community, start, end, zone, granularity)
                rolled = sorted(map(dict, await conn.fetch(q.SPEECH_METRICS, *args)), key=str)
                exact = sorted(map(dict, await conn.fetch(q.SPEECH_METRICS_EXACT, *args)), key=str)
                assert rolled == exact, (args, rolled, exact)
            by_member = await conn.fetch(q.VALID_SPEECH_BY_MEMBER, community, start, end, zone)
            exact = await conn.fetch(q.VALID_SPEECH_BY_MEMBER_EXACT, community, start, end)
            assert sorted(map(dict, by_member), key=str) == sorted(map(dict, exact), key=str), (community, start)
    for community in communities:  # member profiles: since ever, one member
        for user in await conn.fetch("SELECT DISTINCT author_id FROM posts WHERE author_id IS NOT NULL"):
            args = (community, *EVER, user["author_id"])
            assert await conn.fetchrow(PROFILE_SPEECH, *args) == await conn.fetchrow(PROFILE_SPEECH_EXACT, *args)


@pytest.fixture
def settings(database_url):
    return make_settings(database_url)


@pytest.fixture
async def empty_database(admin_url):
    name = unique_name("m")
    await create_database(admin_url, name)
    yield with_database(admin_url, name)
    await drop_database(admin_url, name)


@pytest.mark.parametrize(("seed", "zone"), [(1, ZONES[0]), (2, ZONES[1]), (3, ZONES[2])])
async def test_the_roll_up_gives_what_the_rows_give_after_any_writes_and_changes(database_url, seed, zone):
    rng = random.Random(seed)
    conn = await connect(database_url)
    try:
        await logic.rebuild_speech(conn, zone)
        users, communities = await seed_people(conn)
        await write_randomly(conn, rng, users, communities)
        repeats = await conn.fetchval("SELECT count(*) FROM posts WHERE speech_repeat")
        assert repeats > 0  # the data has repeats to take off
        await assert_same(conn, communities, 6, rng)
        await change_randomly(conn, rng, users)
        await assert_same(conn, communities, 6, rng)
        # Rebuilt in another zone (rebuild-metrics after METRICS_TIMEZONE changed): the same again.
        days = "SELECT * FROM speech_days WHERE posts + comments > 0 ORDER BY 1, 2, 3"  # emptied days stay, at 0
        kept = [tuple(r) for r in await conn.fetch(days)]
        await logic.rebuild_speech(conn, ZONES[seed % 3])
        await assert_same(conn, communities, 6, rng)
        await logic.rebuild_speech(conn, zone)
        assert [tuple(r) for r in await conn.fetch(days)] == kept
        await conn.execute("DELETE FROM comments")
        await conn.execute("DELETE FROM posts")
        assert await conn.fetchval("SELECT count(*) FROM speech_keys") == 0
        left = await conn.fetchval("SELECT count(*) FROM speech_days WHERE posts + comments + valid_posts > 0")
        assert left == 0
    finally:
        await conn.close()


async def test_metrics_in_a_zone_other_than_the_roll_up_s_are_computed_from_the_rows(database_url, settings):
    conn = await connect(database_url)
    try:
        users, communities = await seed_people(conn)
        await write_randomly(conn, random.Random(5), users, communities)
        first, last = START.date(), START.date() + timedelta(days=14)
        shanghai = await logic.compute_metrics(conn, settings, communities[0], first, last, "week")
        assert await conn.fetchval(q.SPEECH_ZONE) == settings.metrics_timezone == "Asia/Shanghai"
        await conn.execute("UPDATE speech_zone SET zone = 'Asia/Kolkata'")  # changed, not rebuilt
        assert await logic.compute_metrics(conn, settings, communities[0], first, last, "week") == shanghai
        assert await logic.compute_metrics(conn, settings, communities[0], first, last, "week", exact=True) == shanghai
        assert shanghai[1].valid_posts + shanghai[1].valid_comments > 0
    finally:
        await conn.close()


async def test_concurrent_repeats_by_one_author_are_all_seen(database_url):
    """Ten connections write the same words at once: nine are repeats, whatever the commit order."""
    conn = await connect(database_url)
    try:
        users, communities = await seed_people(conn)
        post = await conn.fetchval(
            "INSERT INTO posts (community_id, robot, text) VALUES ($1, 'welcome', 'Welcome') RETURNING id",
            communities[0],
        )
    finally:
        await conn.close()
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    writers = [await asyncpg.connect(database_url) for _ in range(10)]
    try:
        transactions = [w.transaction() for w in writers]
        for t in transactions:
            await t.start()

        async def say(n: int, writer: asyncpg.Connection, transaction) -> None:
            await writer.execute(
                "INSERT INTO comments (community_id, post_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5)",
                communities[0],
                post,
                users[1],
                "Same words" if n % 2 else "same   WORDS",
                at + timedelta(seconds=n),
            )
            await asyncio.sleep(0.05)
            await transaction.commit()

        await asyncio.gather(*(say(n, w, t) for n, (w, t) in enumerate(zip(writers, transactions, strict=True))))
    finally:
        for w in writers:
            await w.close()
    conn = await connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM comments WHERE speech_repeat") == 10
        assert await conn.fetchval("SELECT sum(valid_comments) FROM speech_days") == 10
        rows = await conn.fetch(q.VALID_SPEECH_BY_MEMBER_EXACT, communities[0], at, at + timedelta(hours=1))
        assert [(r["user_id"], r["valid_posts"], r["valid_comments"]) for r in rows] == [(users[1], 0, 1)]
        start, _ = logic.day_bounds((at - timedelta(days=1)).date(), "Asia/Shanghai")
        _, end = logic.day_bounds((at + timedelta(days=1)).date(), "Asia/Shanghai")
        rows = await conn.fetch(q.VALID_SPEECH_BY_MEMBER, communities[0], start, end, "Asia/Shanghai")
        assert [(r["user_id"], r["valid_posts"], r["valid_comments"]) for r in rows] == [(users[1], 0, 1)]
    finally:
        await conn.close()


async def test_the_migration_backfills_the_rows_already_written(empty_database):
    conn = await connect(empty_database)
    try:
        await migrations.migrate(conn, [m for m in migrations.discover() if m.version < 29])
        rng = random.Random(7)
        users, communities = await seed_people(conn)
        await write_randomly(conn, rng, users, communities)
        await migrations.migrate(conn)
        await assert_same(conn, communities, 6, rng)
        await change_randomly(conn, rng, users)
        await assert_same(conn, communities, 6, rng)
    finally:
        await conn.close()
