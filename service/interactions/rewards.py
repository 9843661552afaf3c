"""Member contributions, the leaderboard, and two-tier reward pools.

Tier 1 splits a pool among eligible communities by activity score; tier 2 splits each community's share
among its active members by contribution. Both use largest-remainder rounding, so the member amounts
always add up to the pool exactly (when at least one community is eligible).
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from datetime import date, datetime, timedelta

import asyncpg

from service.core.rows import from_row
from service.errors import Problem
from service.interactions import queries as q
from service.interactions import reward_queries as rq
from service.interactions.allocation import split_two_tiers
from service.interactions.logic import ROLLUP_OVERLAP, compute_metrics, day_bounds, validate_window
from service.interactions.models import (
    CommunityAllocation,
    Contribution,
    MemberAllocation,
    RewardPool,
    RewardPoolCreate,
)
from service.interactions.payouts import promise_payouts
from service.settings import Settings
from service.wechat.pay import MAX_UNNAMED_TRANSFER_FEN

log = logging.getLogger("service.interactions")

# How long after a window's last local day a pool of it may be committed: the roll-up reads again what transactions
# still open at a run committed since (ROLLUP_OVERLAP) and runs every minute; the rest is room for a late worker.
COMMIT_GRACE = ROLLUP_OVERLAP + timedelta(minutes=5)


def contribution_weights(settings: Settings) -> dict[str, float]:
    return {
        "validPosts": settings.contribution_valid_post,
        "validComments": settings.contribution_valid_comment,
        "commentsReceived": settings.contribution_comment_received,
        "likesReceived": settings.contribution_like_received,
        "participation": settings.contribution_participation,
        "referrals": settings.contribution_referral,
    }


def contribution_score(settings: Settings, c: Contribution) -> float:
    w = contribution_weights(settings)
    return round(
        w["validPosts"] * c.valid_posts
        + w["validComments"] * c.valid_comments
        + w["commentsReceived"] * c.comments_received
        + w["likesReceived"] * c.likes_received
        + w["participation"] * c.participation
        + w["referrals"] * c.referrals,
        6,
    )


def ranked_page(
    settings: Settings, members: dict[int, Contribution], after: tuple[float, int] | None, limit: int
) -> tuple[list[tuple[int, float, int, Contribution]], tuple[float, int] | None]:
    """One page of the leaderboard: (rank, score, user id, contribution) of up to ``limit`` members after the cursor's
    (score, user id), and the next page's key (None on the last page). The order is total (score down, then lower user
    id first), so a tie cut by a page boundary is neither repeated nor skipped."""

    def order(item: tuple[float, int, Contribution]) -> tuple[float, int]:
        return -item[0], item[1]

    scored = sorted(((contribution_score(settings, c), user_id, c) for user_id, c in members.items()), key=order)
    start = 0 if after is None else bisect_right(scored, (-after[0], after[1]), key=order)  # the first past it
    page = [(start + n + 1, score, user_id, c) for n, (score, user_id, c) in enumerate(scored[start : start + limit])]
    more = start + limit < len(scored)
    return page, (page[-1][1], page[-1][2]) if more else None


async def contributions(
    conn: asyncpg.Connection, settings: Settings, community_id: int, start: date, end: date
) -> dict[int, Contribution]:
    """Contribution inputs of the community's active members over [start, end] (local days). Participation: the
    rolled-up feedback, check-ins and attendance, plus what stands of the proposals and votes of the polls that
    closed in the window (read from the polls' rows: final once closed, so a preview and the commit agree)."""
    validate_window(start, end)
    window_start, _ = day_bounds(start, settings.metrics_timezone)
    _, window_end = day_bounds(end, settings.metrics_timezone)
    members = {r["user_id"] for r in await conn.fetch(q.ACTIVE_MEMBERS, community_id)}
    zone = settings.metrics_timezone
    if await conn.fetchval(q.SPEECH_ZONE) == zone:  # the roll-up's days are these local days
        rows = await conn.fetch(q.VALID_SPEECH_BY_MEMBER, community_id, window_start, window_end, zone)
    else:
        rows = await conn.fetch(q.VALID_SPEECH_BY_MEMBER_EXACT, community_id, window_start, window_end)
    speech = {r["user_id"]: r for r in rows}
    given = {r["user_id"]: r for r in await conn.fetch(q.CONTRIBUTIONS, community_id, start, end)}
    polls = {
        r["user_id"]: r["participation"]
        for r in await conn.fetch(q.POLL_PARTICIPATION, community_id, window_start, window_end)
    }
    referred = {
        r["user_id"]: r["referrals"]
        for r in await conn.fetch(q.REFERRALS_BY_MEMBER, community_id, window_start, window_end)
    }
    result = {}
    for user_id in members:
        s, g = speech.get(user_id), given.get(user_id)
        result[user_id] = Contribution(
            valid_posts=s["valid_posts"] if s else 0,
            valid_comments=s["valid_comments"] if s else 0,
            comments_received=int(g["comments_received"]) if g else 0,
            likes_received=int(g["likes_received"]) if g else 0,
            participation=(int(g["participation"]) if g else 0) + polls.get(user_id, 0),
            referrals=referred.get(user_id, 0),
        )
    return result


async def plan(conn: asyncpg.Connection, settings: Settings, pool: asyncpg.Record) -> list[CommunityAllocation]:
    """The allocation a pool would make now (a brand's pool: over the brand's communities of now)."""
    start, end = pool["window_from"], pool["window_to"]
    scores: dict[int, float] = {}
    member_scores: dict[int, dict[int, float]] = {}
    for row in await conn.fetch(rq.CANDIDATE_COMMUNITIES, pool["community_ids"], pool["brand_id"]):
        community_id = row["id"]
        _, total, _ = await compute_metrics(conn, settings, community_id, start, end, "month")
        if (
            total.activity_score <= 0
            or total.activity_score < pool["min_score"]
            or total.effective_speakers < pool["min_effective_speakers"]
        ):
            continue
        members = await contributions(conn, settings, community_id, start, end)
        positive = {u: score for u, c in members.items() if (score := contribution_score(settings, c)) > 0}
        if positive:
            scores[community_id] = total.activity_score
            member_scores[community_id] = positive
    member_shares = split_two_tiers(pool["amount_fen"], scores, member_scores)
    return [
        CommunityAllocation(
            community_id=str(community_id),
            activity_score=scores[community_id],
            amount_fen=sum(member_shares[community_id].values()),
            members=[
                MemberAllocation(
                    user_id=str(user_id), contribution=member_scores[community_id][user_id], amount_fen=fen
                )
                for user_id, fen in sorted(member_shares[community_id].items())
            ],
        )
        for community_id in sorted(scores)
    ]


def _pool(row: asyncpg.Record, communities: list[CommunityAllocation]) -> RewardPool:
    allocated = sum(m.amount_fen for c in communities for m in c.members)
    return from_row(
        RewardPool,
        row,
        start=row["window_from"],
        end=row["window_to"],
        allocated_fen=allocated,
        unallocated_fen=row["amount_fen"] - allocated,
        communities=communities,
    )


async def create_pool(
    conn: asyncpg.Connection, settings: Settings, data: RewardPoolCreate, operator: str
) -> RewardPool:
    validate_window(data.start, data.end, ("start", "end"), "body")
    row = await conn.fetchrow(
        rq.INSERT_POOL,
        data.amount_fen,
        data.start,
        data.end,
        [int(c) for c in data.community_ids] if data.community_ids is not None else None,
        data.min_activity_score,
        data.min_effective_speakers,
        operator,
    )
    return _pool(row, await plan(conn, settings, row))


async def read_pool(conn: asyncpg.Connection, settings: Settings, pool_id: int) -> RewardPool:
    row = await conn.fetchrow(rq.POOL, pool_id)
    if row is None or row["brand_id"] is not None:  # a brand's pool is the brand's (brand_pools.py)
        raise Problem("pool_not_found")
    return _pool(row, await allocation(conn, settings, row))


async def allocation(conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record) -> list[CommunityAllocation]:
    """What a pool shows: the recorded allocation once committed, else the one it would make now."""
    if row["status"] == "committed":
        return _stored(await conn.fetch(rq.POOL_ALLOCATIONS, row["id"]))
    return await plan(conn, settings, row)


async def commit_pool(
    conn: asyncpg.Connection, settings: Settings, pool_id: int, brand_id: int | None = None
) -> RewardPool:
    """Record the allocation once; committing again returns what was recorded. `brand_id`: the brand whose pool
    it must be (None: the operator's pools)."""
    async with conn.transaction():
        row = await conn.fetchrow(rq.LOCK_POOL, pool_id)
        if row is None or row["brand_id"] != brand_id:
            raise Problem("pool_not_found")
        if row["status"] == "unpaid":  # a brand's pool before its payment (brand_pools.py)
            raise Problem("pool_not_paid", "the pool is paid for before it is committed")
        if row["status"] == "cancelled":
            raise Problem("pool_cancelled")
        if row["status"] == "draft":
            _, window_end = day_bounds(row["window_to"], settings.metrics_timezone)
            await _require_window_over(conn, window_end)
            await _require_rolled_up(conn, window_end)
            communities = await plan(conn, settings, row)
            if not communities:
                raise Problem("nothing_to_allocate")
            _require_transferable(communities)
            rows = [(int(c.community_id), None, c.amount_fen, c.activity_score) for c in communities] + [
                (int(c.community_id), int(m.user_id), m.amount_fen, m.contribution)
                for c in communities
                for m in c.members
            ]
            await conn.execute(rq.INSERT_ALLOCATIONS, pool_id, *map(list, zip(*rows, strict=True)))
            await promise_payouts(conn, pool_id)
            await conn.execute(rq.COMMIT_POOL, pool_id)
            row = await conn.fetchrow(rq.POOL, pool_id)
        stored = await conn.fetch(rq.POOL_ALLOCATIONS, pool_id)
    return _pool(row, _stored(stored))


async def _require_window_over(conn: asyncpg.Connection, window_end: datetime) -> None:
    """A pool pays for its whole window: committed before the window's last local day (METRICS_TIMEZONE) is over and
    rolled up, it would pay for the activity so far and leave the rest of the window unpaid for good. The database's
    clock decides, as everywhere money is decided."""
    committable_from = window_end + COMMIT_GRACE
    if await conn.fetchval("SELECT now() < $1::timestamptz", committable_from):
        raise Problem(
            "pool_window_open",
            f"the window ends at {window_end.isoformat()}; commit the pool from {committable_from.isoformat()}",
        )


async def _require_rolled_up(conn: asyncpg.Connection, window_end: datetime) -> None:
    """The clock is not enough: with the worker late or down, the roll-ups (views, presence, new members,
    contributions) miss part of the window, and the commit would record a split on them for good. A roll-up run that
    began ROLLUP_OVERLAP after the window's end has read everything recorded in it (what was still open at its start
    had begun since, logic.rollup_incremental)."""
    watermark = await conn.fetchval(rq.ROLLUP_WATERMARK)
    if watermark is None or watermark < window_end + ROLLUP_OVERLAP:
        raise Problem(
            "pool_rollup_pending",
            f"the metrics roll-up last ran at {watermark.isoformat() if watermark else 'never'}; the window ends at "
            f"{window_end.isoformat()}: commit once a run from {(window_end + ROLLUP_OVERLAP).isoformat()} is done",
        )


def _require_transferable(communities: list[CommunityAllocation]) -> None:
    """Each member reward is one merchant transfer, and WeChat Pay refuses one above 1,999.99 yuan without the payee's
    real name (which we do not hold): such a reward would stay owed for good, so the commit refuses it."""
    largest = max((m for c in communities for m in c.members), key=lambda m: m.amount_fen)
    if largest.amount_fen > MAX_UNNAMED_TRANSFER_FEN:
        raise Problem(
            "reward_too_large",
            f"member {largest.user_id} would get {largest.amount_fen} fen; one transfer carries at most "
            f"{MAX_UNNAMED_TRANSFER_FEN}",
        )


async def commit(
    conn: asyncpg.Connection, settings: Settings, pool_id: int, brand_id: int
) -> tuple[asyncpg.Record, list[CommunityAllocation]]:
    """A brand's pool committed (`commit_pool`): its row and its recorded allocation."""
    await commit_pool(conn, settings, pool_id, brand_id)
    return await conn.fetchrow(rq.POOL, pool_id), _stored(await conn.fetch(rq.POOL_ALLOCATIONS, pool_id))


def _stored(rows: list[asyncpg.Record]) -> list[CommunityAllocation]:
    communities = []
    for row in rows:
        if row["user_id"] is None:
            communities.append(
                CommunityAllocation(
                    community_id=str(row["community_id"]),
                    activity_score=row["basis"],
                    amount_fen=row["amount_fen"],
                    members=[],
                )
            )
        else:
            communities[-1].members.append(
                MemberAllocation(user_id=str(row["user_id"]), contribution=row["basis"], amount_fen=row["amount_fen"])
            )
    return communities
