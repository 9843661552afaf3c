"""Members' interests, measured (docs/interests.md): the extraction job's throughput, the for-you page against the
hot page, and a run of the robot's nudges, on 100 members x 5,000 posts of one community in a scratch database.

Usage: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m benchmarks.interests
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from service.db.migrate import migrate
from service.db.pool import _init_connection
from service.feed import page_queries as pages
from service.feed.for_you import FOR_YOU
from service.interests import extraction
from service.interests.segmenter import keywords
from service.warmup import nudges
from tests.support import scratch_database_in_loop

TOPICS = ["跑步", "咖啡", "爬山", "摄影", "露营", "钓鱼", "瑜伽", "篮球", "烘焙", "吉他", "读书", "电影"]
FILL = [
    "周末一起去{}吧",
    "今天的{}体验真不错",
    "有没有喜欢{}的朋友",
    "{}入门求推荐",
    "分享一下我的{}心得，坚持了三个月",
]
MEMBERS, POSTS = 100, 5000


async def _seed(conn: asyncpg.Connection) -> tuple[int, list[int]]:
    users = [
        await conn.fetchval("INSERT INTO users (appid, openid, nickname) VALUES ('b', $1, $1) RETURNING id", f"u{i}")
        for i in range(MEMBERS)
    ]
    cid = await conn.fetchval(
        "INSERT INTO communities (name, owner_id, welcome_template, member_count) "
        "VALUES ('b', $1, '', $2) RETURNING id",
        users[0],
        MEMBERS,
    )
    await conn.executemany(
        "INSERT INTO memberships (community_id, user_id, role, status, via) "
        "VALUES ($1, $2, 'member', 'active', 'free')",
        [(cid, user) for user in users],
    )
    rnd, now = random.Random(1), datetime.now(UTC)
    rows = [
        (
            cid,
            users[i % MEMBERS],
            rnd.choice(FILL).format(TOPICS[i % MEMBERS % len(TOPICS)])
            + "，"
            + rnd.choice(FILL).format(rnd.choice(TOPICS)),
            now - timedelta(minutes=POSTS - i),
            rnd.randint(0, 20),
        )
        for i in range(POSTS)
    ]
    await conn.executemany(
        "INSERT INTO posts (community_id, author_id, text, created_at, like_count) VALUES ($1, $2, $3, $4, $5)", rows
    )
    await conn.execute(
        "INSERT INTO warmup_settings (community_id, enabled, active_from, active_until) "
        "VALUES ($1, true, '00:00', '00:00') ON CONFLICT (community_id) DO UPDATE "
        "SET enabled = true, active_from = '00:00', active_until = '00:00'",
        cid,
    )
    await conn.execute("ANALYZE")
    return cid, users


async def _ms(conn: asyncpg.Connection, sql: str, *args: object, n: int = 30) -> float:
    await conn.fetchrow(sql, *args)
    started = time.perf_counter()
    for _ in range(n):
        await conn.fetchrow(sql, *args)
    return (time.perf_counter() - started) / n * 1000


async def main() -> None:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    async with scratch_database_in_loop(admin, "bench_interests") as url:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        cid, users = await _seed(conn)
        started = time.perf_counter()
        keywords("预热")
        print(f"jieba dictionary loaded in {time.perf_counter() - started:.2f} s")
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4, init=_init_connection)
        started = time.perf_counter()
        read = await extraction.extract(pool)
        took = time.perf_counter() - started
        print(f"extraction: {read} texts in {took:.2f} s = {read / took:.0f} texts/s")
        started = time.perf_counter()
        await extraction.extract(pool)
        print(f"a run with nothing new: {(time.perf_counter() - started) * 1000:.0f} ms")
        await conn.execute("ANALYZE")
        reader = users[5]
        hot = await _ms(conn, pages.FEED_HOT.first, cid, reader, None, None, 20)
        mine = await _ms(conn, FOR_YOU, cid, reader, None, None, 20)
        print(f"first page of 20: hot {hot:.2f} ms, for-you {mine:.2f} ms")
        started = time.perf_counter()
        made = await nudges.nudge(pool)
        print(f"nudges: {made} (introductions, prompts) in {(time.perf_counter() - started) * 1000:.0f} ms")
        await pool.close()
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
