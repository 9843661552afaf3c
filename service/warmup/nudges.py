"""The warm-up robot's introductions and topic prompts, from members' interests (service/interests fills them).

Where the warm-up robot is on and within its active hours, the `robots.nudges` job:

- introduces two members who share an interest (both weigh the tag at least MIN_WEIGHT: about one text of the
  last month): each gets an `introduction` inbox item naming the other and the tag. Never two members who were
  introduced before, nor two of whom one blocked the other.
- prompts a silent member (no post nor comment in the community for SILENT) with their strongest interest: an
  `interest_prompt` item with the tag and, when there is one, the hottest recent post on it (by someone neither
  blocked), else the community.

Bounds: a member gets at most one nudge (either kind) per NUDGE_EVERY across communities; a community sends at most
INTRODUCTIONS_PER_DAY introductions (pairs) and PROMPTS_PER_DAY prompts in any 24 hours. Opt-out: a member whose
interest settings say `introductions: false` gets neither; nor does a member an admin muted (they may not write),
nor one whose account's deletion is under way.
Each nudge is recorded (warmup_nudges) in the transaction that delivers it, under the community's warm-up row lock:
reruns and concurrent workers send it once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from service.core.inbox import Item, deliver
from service.warmup import nudge_queries as q
from service.warmup.quiet import is_active

log = logging.getLogger("service.warmup")

NUDGE_EVERY = timedelta(days=7)
INTRODUCTIONS_PER_DAY = 3
PROMPTS_PER_DAY = 5
SILENT = timedelta(days=7)
MIN_WEIGHT = 0.5
PER_TAG = 30  # the strongest members of a tag who may be paired


async def _introduce(conn: asyncpg.Connection, community_id: int, room: int) -> int:
    if room <= 0:
        return 0
    made, taken = 0, set()
    for pair in await conn.fetch(q.PAIRS, community_id, NUDGE_EVERY, MIN_WEIGHT, PER_TAG):
        first, second, tag = pair["first_id"], pair["second_id"], pair["tag"]
        if first in taken or second in taken:
            continue  # one introduction per member per run (and per NUDGE_EVERY)
        taken |= {first, second}
        for user_id, other_id in ((first, second), (second, first)):
            await conn.execute(q.RECORD, community_id, user_id, other_id, "introduction", tag, None)
            await deliver(
                conn,
                Item(
                    user_id=user_id,
                    kind="introduction",
                    subject_type="user",
                    subject_id=other_id,
                    community_id=community_id,
                    actor_id=other_id,
                    data={"tag": tag, "userId": str(other_id)},
                ),
            )
        made += 1
        if made == room:
            break
    return made


async def _prompt(conn: asyncpg.Connection, community_id: int, room: int) -> int:
    if room <= 0:
        return 0
    rows = await conn.fetch(q.SILENT, community_id, NUDGE_EVERY, SILENT, MIN_WEIGHT, room)
    for row in rows:
        post_id = row["post_id"]
        await conn.execute(q.RECORD, community_id, row["user_id"], None, "prompt", row["tag"], post_id)
        data = {"tag": row["tag"]} if post_id is None else {"tag": row["tag"], "postId": str(post_id)}
        await deliver(
            conn,
            Item(
                user_id=row["user_id"],
                kind="interest_prompt",
                subject_type="community" if post_id is None else "post",
                subject_id=community_id if post_id is None else post_id,
                community_id=community_id,
                data=data,
            ),
        )
    return len(rows)


async def nudge(pool: asyncpg.Pool, now: datetime | None = None) -> tuple[int, int]:
    """The periodic job: introductions and prompts in every community where the robot is on. Returns how many
    of each were sent."""
    now = now or datetime.now(UTC)
    introduced = prompted = 0
    for row in await pool.fetch(q.CANDIDATES):
        if not is_active(now, ZoneInfo(row["timezone"]), row["active_from"], row["active_until"]):
            continue
        community_id = row["community_id"]
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(q.LOCK, community_id) is None:
                continue  # another worker has it
            # Two rows a pair, or one once a member of it was erased (the other's stays): round up, so the cap
            # still counts that pair.
            rows = await conn.fetchval(q.SENT_TODAY, community_id, "introduction")
            pairs = INTRODUCTIONS_PER_DAY - (rows + 1) // 2
            made = await _introduce(conn, community_id, pairs)
            prompts = PROMPTS_PER_DAY - await conn.fetchval(q.SENT_TODAY, community_id, "prompt")
            told = await _prompt(conn, community_id, prompts)
        introduced += made
        prompted += told
        if made or told:
            log.info("warm-up nudges", extra={"communityId": community_id, "introductions": made, "prompts": told})
    return introduced, prompted
