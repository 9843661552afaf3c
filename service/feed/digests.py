"""The weekly digest (docs/feed.md): a post of the `digest` robot listing last week's most engaged member posts, one
line each, and its upkeep: a listed post that leaves sight (its author deleted it, an admin removed or hid it) or
whose author's account is erased has its line written again, so the digest never keeps what the post no longer
shows, nor an erased member's name.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.core.privacy import ERASED_NICKNAME
from service.core.robots import post_as_robot
from service.feed import queries as q
from service.settings import Settings

DIGEST_SIZE = 5
DIGEST_BATCH = 200
EXCERPT = 20  # characters of a subscribe message's "thing" fields (WeChat's limit), and of a digest's excerpts
GONE = "该内容已不可见"


def excerpt(text: str) -> str:
    """The text on one line, cut to EXCERPT characters."""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def last_week(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """The last complete week, Monday to Monday in the metrics time zone."""
    zone = ZoneInfo(settings.metrics_timezone)
    today = now.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    end = datetime.combine(this_monday, time(), zone)
    return datetime.combine(this_monday - timedelta(days=7), time(), zone), end


def _line(rank: int, post: Any) -> str:
    if not post["shown"]:
        return f"{rank}. {GONE}"
    counts = f"赞 {post['like_count']} · 评论 {post['comment_count']} · 分享 {post['share_count']}"
    return f"{rank}. {post['nickname'] or '成员'}：{excerpt(post['text']) or '[图片]'}（{counts}）"


def _heading(start: datetime) -> str:
    end = start + timedelta(days=6)
    return f"本周精华（{start.month}月{start.day}日-{end.month}月{end.day}日）"


async def weekly_digests(pool: asyncpg.Pool, settings: Settings, now: datetime | None = None) -> int:
    """Post last week's digest in every community that has none yet (once per community and week: the
    digest row is claimed in the transaction that posts it). Returns how many digests were posted."""
    start, end = last_week(settings, now or datetime.now(UTC))
    posted, after = 0, 0
    while True:
        async with pool.acquire() as conn:
            communities = [row["id"] for row in await conn.fetch(q.DIGEST_COMMUNITIES, after, DIGEST_BATCH)]
        for community_id in communities:
            async with pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(q.CLAIM_DIGEST, community_id, start.date()):
                    continue
                best = await conn.fetch(q.DIGEST_CANDIDATES, community_id, start, end, DIGEST_SIZE)
                if not best:
                    continue
                text = "\n".join([_heading(start), *(_line(rank, post) for rank, post in enumerate(best, 1))])
                post_id = await post_as_robot(conn, community_id, "digest", "digest", text)
                await conn.execute(q.SET_DIGEST, community_id, start.date(), post_id, [row["id"] for row in best])
                posted += 1
        if len(communities) < DIGEST_BATCH:
            return posted
        after = communities[-1]


async def redraw(conn: asyncpg.Connection, community_id: int, post_ids: list[int], *, erased: int = 0) -> None:
    """Write again, in the caller's transaction, each digest of the community listing one of ``post_ids``: its
    heading as it was, each line from its post as it is now (the counts too); ``erased``, the account being erased,
    is named ERASED_NICKNAME (its tombstone is written after the domains' erasure)."""
    for digest in await conn.fetch(q.DIGESTS_LISTING, community_id, post_ids):
        posts = await conn.fetch(q.DIGEST_LINES, community_id, digest["post_ids"], erased, ERASED_NICKNAME)
        heading = digest["text"].split("\n", 1)[0]
        text = "\n".join([heading, *(_line(rank, post) for rank, post in enumerate(posts, 1))])
        if text != digest["text"]:
            await conn.execute(q.SET_DIGEST_TEXT, community_id, digest["post_id"], text)
