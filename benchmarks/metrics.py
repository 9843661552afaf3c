"""The metrics of a real community's volume, alone: `python -m benchmarks.metrics` (also part of `make bench`).

One community with 100 members, 100k posts, 400k comments (1 in 100 a repeat) and 1 M view events over 30 days,
written through the service's triggers. Reports, in the same run: the 30-day metrics by day (speech from the
roll-up), a bare `count(*)` of the community's events, and the same metrics with the speech read from the posts
and comments themselves (how it was before migration 0029). Also what the triggers cost a write: 10,000 comments
inserted one statement each, with and without them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg

from benchmarks import throughput
from service.db import embedded
from service.db.migrate import migrate
from service.db.pool import connect
from service.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789-0123456789-abcdef"
WRITES = 10_000

ONE_COMMENT = """
INSERT INTO comments (community_id, post_id, author_id, text, created_at)
VALUES ($1, $2, $3, 'one more comment worth reading ' || $4::int, now())
"""


async def write_cost(conn: asyncpg.Connection, community: int) -> tuple[float, float]:
    """Microseconds per comment insert with the speech triggers and without them (each run rolled back)."""
    post = await conn.fetchval("SELECT min(id) FROM posts WHERE community_id = $1", community)
    author = await conn.fetchval("SELECT author_id FROM posts WHERE id = $1", post)
    figures = []
    for triggers in (True, False):
        transaction = conn.transaction()
        await transaction.start()
        try:
            if not triggers:
                await conn.execute("ALTER TABLE comments DISABLE TRIGGER comments_speech")
            began = time.perf_counter()
            for n in range(WRITES):
                await conn.execute(ONE_COMMENT, community, post, author, n)
            figures.append((time.perf_counter() - began) / WRITES * 1e6)
        finally:
            await transaction.rollback()
    return figures[0], figures[1]


async def run(admin: str) -> list[tuple[str, str, str, float, str]]:
    from tests.support import scratch_database_in_loop

    async with scratch_database_in_loop(admin, "benchmetrics") as dsn:
        settings = load_settings({}, database_url=dsn, secret_key=SECRET)
        conn = await connect(dsn)
        try:
            await migrate(conn)
            print("  seeding 100k posts, 400k comments and 1 M events ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            community = await throughput.seed_metrics(conn, settings)
            print(f"  seeded in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
            return await comparisons(conn, settings, community)
        finally:
            await conn.close()


async def comparisons(conn: asyncpg.Connection, settings, community: int) -> list[tuple[str, str, str, float, str]]:
    timed = await throughput.time_metrics(conn, settings, community)
    total = timed["total"]
    print(
        f"  total: {total.speakers} speakers, {total.effective_speakers} effective, {total.valid_posts:,} valid posts, "
        f"{total.valid_comments:,} valid comments",
        file=sys.stderr,
    )
    rows = [metrics_row(timed)]
    rows.append(
        (
            f"the same, speech read from its {timed['speech']:,} posts and comments (before 0029)",
            f"{timed['exact_ms']:.1f} ms",
            f"{timed['count_ms']:.1f} ms (count(*) of the events)",
            timed["exact_ms"] / timed["count_ms"],
            "(the old way)",
        )
    )
    with_triggers, without = await write_cost(conn, community)
    rows.append(
        (
            "a comment insert with the speech triggers",
            f"{with_triggers:.0f} µs",
            f"{without:.0f} µs (triggers disabled)",
            with_triggers / without,
            "(reported)",
        )
    )
    return rows


def metrics_row(timed: dict) -> tuple[str, str, str, float, str]:
    return (
        f"metrics of one community, 30 days by day, {timed['speech']:,} posts and comments, {timed['rows']:,} events",
        f"{timed['metrics_ms']:.1f} ms",
        f"{timed['count_ms']:.1f} ms (count(*) of the events)",
        timed["metrics_ms"] / timed["count_ms"],
        "<= 2.0",
    )


def main() -> int:
    admin = os.environ.get("DATABASE_URL") or embedded.start(ROOT / ".data" / "bench-pg")
    rows = asyncio.run(run(admin))
    print(f"\ncores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}\n")
    print("| measurement | figure | same-run baseline | ratio | goal |\n|---|---:|---:|---:|---|")
    for name, figure, baseline, ratio, goal in rows:
        print(f"| {name} | {figure} | {baseline} | {ratio:.2f} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
