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
from litestar import Response

from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.money import create_transfer, get_transfer
from service.core.money.models import Transfer
from service.core.money.purposes import PaidOrder, Purpose, Refuse, TransferInfo
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
from service.settings import Settings
from service.wechat.pay import MAX_UNNAMED_TRANSFER_FEN, MIN_TRANSFER_FEN, WeChatPay

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
            await _promise_payouts(conn, pool_id)
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


async def _promise_payouts(conn: asyncpg.Connection, pool_id: int) -> None:
    """Merchant transfers for the pool's member rewards, promised in the commit's transaction: one per reward of
    0.1 yuan or more, and one per member and community for their smaller owed rewards once these add up to 0.1 yuan
    (WeChat Pay transfers nothing less). The checkout worker sends them, the member confirms them in the mini
    program, and `_on_transfer` marks the rewards paid."""
    for row in await conn.fetch(rq.PAYABLE_ALLOCATIONS, pool_id, MIN_TRANSFER_FEN):
        await _transfer(conn, [row], dedupe_key=f"reward:{row['id']}")
    for payee in await conn.fetch(rq.SMALL_PAYEES, pool_id, MIN_TRANSFER_FEN):
        rows = await conn.fetch(rq.LOCK_SMALL_REWARDS, payee["community_id"], payee["user_id"], MIN_TRANSFER_FEN)
        await _pay_small(conn, rows)


async def _pay_small(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> int | None:
    """One transfer for those of a member's small owed rewards in a community (LOCK_SMALL_REWARDS: all of them,
    locked, so a reward is never in two open transfers) that no transfer carries, once they add up to WeChat's
    minimum; None while they do not."""
    free = [row for row in rows if row["transfer_id"] is None]
    if sum(row["amount_fen"] for row in free) < MIN_TRANSFER_FEN:
        return None
    return await _transfer(conn, free)


async def _transfer(conn: asyncpg.Connection, rows: list[asyncpg.Record], dedupe_key: str | None = None) -> int:
    """Promise one transfer paying these locked rewards (one member's, one community's). Without `dedupe_key`, a
    new transfer: the rewards' locks make it once, and one sent again after a failure must not be the failed one."""
    first = rows[0]
    transfer_id = await create_transfer(
        conn,
        payee_user_id=first["user_id"],
        amount_fen=sum(row["amount_fen"] for row in rows),
        purpose=REWARD_PURPOSE,
        subject_id=first["id"],
        community_id=first["community_id"],
        remark="社区活跃奖励",
        dedupe_key=dedupe_key,
    )
    await conn.execute(rq.SET_ALLOCATION_TRANSFER, first["community_id"], [row["id"] for row in rows], transfer_id)
    return transfer_id


async def transfer_reward(
    conn: asyncpg.Connection, pay: WeChatPay, reward_id: int, user_id: int, key: str | None
) -> Response[bytes]:
    """The member asks for an owed reward's transfer: 201 with a new one when it has none (its transfer failed or
    was returned, or it is small and the member's small rewards of its community now add up to WeChat's minimum,
    which are then paid together), 200 with the open one it has. Never two open transfers for a reward: its row
    (a small one: all of the member's small ones in the community) is locked."""

    async def action() -> tuple[int, Transfer]:
        reward = await conn.fetchrow(rq.MY_REWARD, reward_id, user_id)
        if reward is None:
            raise Problem("reward_not_found")
        community_id = reward["community_id"]
        small = reward["amount_fen"] < MIN_TRANSFER_FEN
        if small:
            rows = await conn.fetch(rq.LOCK_SMALL_REWARDS, community_id, user_id, MIN_TRANSFER_FEN)
        else:
            rows = await conn.fetch(rq.LOCK_OWED_REWARD, community_id, reward_id)
        mine = next((row for row in rows if row["id"] == reward_id), None)
        if mine is None:
            raise Problem("reward_already_paid")
        if mine["transfer_id"] is not None:
            return 200, await get_transfer(conn, pay, mine["transfer_id"], user_id)
        transfer_id = await (_pay_small(conn, rows) if small else _transfer(conn, rows))
        if transfer_id is None:
            owed = sum(row["amount_fen"] for row in rows if row["transfer_id"] is None)
            raise Problem(
                "reward_below_minimum", f"{owed} fen owed in this community; a transfer needs {MIN_TRANSFER_FEN}"
            )
        return 201, await get_transfer(conn, pay, transfer_id, user_id)

    return await run_once(conn, user_id, key, scope_of("reward.transfer", reward_id), action)


async def _on_transfer(conn: asyncpg.Connection, transfer: TransferInfo) -> None:
    if transfer.status != "succeeded":
        # Failed, or returned unconfirmed after 24 hours: its rewards are owed again, free to be sent again.
        await conn.execute(rq.RELEASE_TRANSFER, transfer.id)
        return
    paid = await conn.fetch(rq.MARK_TRANSFER_PAID, transfer.id)
    if paid:  # the first time only; one notice for the transfer, however many rewards it pays
        data = {"amountFen": str(transfer.amount_fen)}
        community_id = paid[0]["community_id"]
        await deliver(
            conn, Item(transfer.payee_user_id, "reward_paid", "reward", transfer.subject_id, community_id, data=data)
        )
    elif not await conn.fetchval(rq.TRANSFER_PAID_REWARDS, transfer.id):
        # WeChat paid a transfer we had failed (only a query error once did that): its rewards were released and
        # may have been sent again, so the member may hold them twice, for a person to settle.
        log.error("a failed reward transfer was paid", extra={"transferId": transfer.id})


async def _never_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse:
    return Refuse("not_payable", "rewards are paid out, never paid for")


REWARD_PURPOSE = "reward"
# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
REWARD_PAYMENTS = Purpose(REWARD_PURPOSE, on_paid=_never_paid, on_transfer=_on_transfer)


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
