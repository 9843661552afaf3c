"""HTTP routes of interactions: client events, presence, metrics, leaderboard, reward pools."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from service.core.access import ADMIN_ROLES, require_admin, require_member
from service.core.days import DAY_RANGE
from service.core.deps import AppSettings, Db, Pay, Reads
from service.core.guard import BEARER_SECURITY, OPERATOR_SECURITY, CurrentUser, caller_of
from service.core.idempotency import IdempotencyKey
from service.core.ids import MAX_ID, PathId
from service.core.money.models import Transfer
from service.core.paging import Cursor, decode_cursor, encode_cursor
from service.errors import Problem
from service.interactions import ingestion, logic, payouts, rewards, stages
from service.interactions import queries as q
from service.interactions import reward_queries as rq
from service.interactions.models import (
    BatchResult,
    EventBatch,
    Heartbeat,
    Leaderboard,
    LeaderboardEntry,
    Metrics,
    MyReward,
    MyRewards,
    PresenceSession,
    RewardPool,
    RewardPoolCreate,
    Stage,
)
from service.interactions.problems import PROBLEMS
from service.wechat.pay import MIN_TRANSFER_FEN

From = Annotated[
    date, QueryParameter(name="from", description=f"First local day of the window (YYYY-MM-DD, {DAY_RANGE})")
]
To = Annotated[date, QueryParameter(name="to", description=f"Last local day of the window, inclusive ({DAY_RANGE})")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size")]


class InteractionsController(Controller):
    tags = ["interactions"]
    security = BEARER_SECURITY

    @post(
        "/events",
        operation_id="recordEvents",
        summary="Record a batch of client events (page views, post views, share opens)",
        description=(
            "Each event carries a client-chosen `id`; a retried batch is absorbed (`duplicates`). Invalid events "
            "are rejected one by one with a code; the rest are accepted. At most EVENT_BATCH_MAX (100) events."
        ),
        status_code=200,
        responses=PROBLEMS.responses("unauthorized", "token_expired", "batch_too_large", "payload_too_large"),
    )
    async def record_events(self, data: JSONBody[EventBatch], request: Request) -> BatchResult:
        # No dependency at all: the caller the security guard verified, the writer and the settings from the
        # app (Litestar resolves a handler's dependencies in an anyio task group, a cost on every batch). And no
        # `db`: no pooled connection is held while the process's event writer writes this batch with the others
        # queued (it takes one connection for all of them).
        state = request.app.state
        return await ingestion.ingest(state.event_writer, state.settings, caller_of(request).id, data)

    @post(
        "/presence/heartbeat",
        operation_id="presenceHeartbeat",
        summary="Say I have the community open (about every 30 s)",
        description=(
            "A gap of more than 90 s between heartbeats ends the presence session; so does leaving the community or "
            "being removed, at once (docs/metrics.md)."
        ),
        status_code=200,
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_member"),
    )
    async def heartbeat(
        self, data: JSONBody[Heartbeat], user: CurrentUser, db: Db, settings: AppSettings
    ) -> PresenceSession:
        community_id = int(data.community_id)
        await require_member(db, community_id, user.id)
        return await logic.heartbeat(db, settings, user.id, community_id)


class MetricsController(Controller):
    path = "/communities/{community_id:str}"
    tags = ["metrics"]
    security = BEARER_SECURITY

    @get(
        "/metrics",
        operation_id="communityMetrics",
        summary="Activity metrics of a community per period and in total (admins)",
        description=(
            "Definitions in docs/metrics.md. Days are local days in METRICS_TIMEZONE. Where a read replica serves "
            "them, the figures may be up to `REPLICA_MAX_LAG` (1 s) behind; my role is checked on the primary."
        ),
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_member", "forbidden", "window_too_long"),
    )
    async def metrics(
        self,
        community_id: PathId,
        start: From,
        end: To,
        caller: CurrentUser,
        reads: Reads,
        settings: AppSettings,
        granularity: FromQuery[Literal["day", "week", "month"]] = "day",
    ) -> Metrics:
        async with reads.primary.acquire() as db:  # the caller's role: on the primary, current
            await require_admin(db, community_id, caller.id)
        # The figures: from the replica when it is usable (at most REPLICA_MAX_LAG seconds late).
        return await reads.read(lambda conn, _: logic.metrics(conn, settings, community_id, start, end, granularity))

    @get(
        "/stage",
        operation_id="communityStage",
        summary="The community's stage and what to do next (admins)",
        description=(
            "The one stage of the community (also on the community and in its metrics), computed once a day over "
            "the last 30 local days: gather -> active -> operate -> commercialise, up or down as activity goes "
            "(thresholds in docs/metrics.md). `advice` lists the stage's actions (gather: invite and welcome; "
            "active: a theme activity; operate: a meetup; commercialise: a paid app, a collection, paid entry) "
            "and `missing` what the next stage still needs (docs/growth.md)."
        ),
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_found", "not_member", "forbidden"),
    )
    async def stage(self, community_id: PathId, user: CurrentUser, db: Db) -> Stage:
        await require_admin(db, community_id, user.id)
        return await stages.stage(db, community_id)

    @get(
        "/leaderboard",
        operation_id="communityLeaderboard",
        summary="Member contribution ranking (members see ranks, admins also the details)",
        description=(
            "Each active member's contribution over the local days `from` to `to` (METRICS_TIMEZONE, at most 366 "
            "days): weighted valid posts, valid comments, comments and likes received and participation (a poll's "
            "proposals and votes as they stand at its close, on that day; docs/metrics.md). Admins also get each "
            "member's counts (`details`) and the `weights`. Ranked by score, ties lower user id first; pages of "
            "`limit` with `nextCursor` (a community holds up to 500 members). Where a read replica serves it, the "
            "ranking may be up to `REPLICA_MAX_LAG` (1 s) behind."
        ),
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_member", "window_too_long"),
    )
    async def leaderboard(
        self,
        community_id: PathId,
        start: From,
        end: To,
        caller: CurrentUser,
        reads: Reads,
        settings: AppSettings,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Leaderboard:
        async with reads.primary.acquire() as db:  # the caller's standing: on the primary, current
            is_admin = (await require_member(db, community_id, caller.id))["role"] in ADMIN_ROLES

        after = decode_cursor(cursor, float, int)

        async def ranked(conn: asyncpg.Connection, _as_of: object) -> tuple[list, tuple | None, dict]:
            members = await rewards.contributions(conn, settings, community_id, start, end)
            page, following = rewards.ranked_page(settings, members, after, limit)
            names = {r["id"]: r for r in await conn.fetch(q.MEMBER_NAMES, [user_id for _, _, user_id, _ in page])}
            return page, following, names

        # The ranking: from the replica when it is usable (at most REPLICA_MAX_LAG seconds late).
        page, following, names = await reads.read(ranked)
        return Leaderboard(
            community_id=str(community_id),
            start=start,
            end=end,
            items=[
                LeaderboardEntry(
                    rank=rank,
                    user_id=str(user_id),
                    nickname=names[user_id]["nickname"],
                    avatar_url=names[user_id]["avatar_url"],
                    score=score,
                    details=contribution if is_admin else None,
                )
                for rank, score, user_id, contribution in page
            ],
            next_cursor=encode_cursor(*following) if following else None,
            weights=rewards.contribution_weights(settings) if is_admin else None,
        )


class RewardPoolsController(Controller):
    path = "/admin/reward-pools"
    tags = ["rewards"]
    security = OPERATOR_SECURITY

    @post(
        "/",
        operation_id="createRewardPool",
        summary="Create a reward pool and preview its two-tier allocation (operator)",
        description="Send the operator key in `X-Operator-Key`. Nothing is paid until the pool is committed.",
        responses=PROBLEMS.responses("operator_only", "window_too_long"),
    )
    async def create(self, data: JSONBody[RewardPoolCreate], db: Db, settings: AppSettings) -> RewardPool:
        return await rewards.create_pool(db, settings, data, "operator")

    @get(
        "/{pool_id:str}",
        operation_id="readRewardPool",
        summary="Read a reward pool: the preview while draft, the recorded allocation once committed",
        description=(
            "A draft shows the allocation the pool would make now, which follows the activity recorded in its window; "
            "a committed pool shows the allocation recorded at commit, which never changes."
        ),
        responses=PROBLEMS.responses("operator_only", "pool_not_found"),
    )
    async def read(self, pool_id: PathId, db: Db, settings: AppSettings) -> RewardPool:
        return await rewards.read_pool(db, settings, pool_id)

    @post(
        "/{pool_id:str}/commit",
        operation_id="commitRewardPool",
        summary="Commit a pool's allocation once (idempotent: a repeat returns the recorded allocation)",
        description=(
            "Records the allocation the draft shows (integer fen, largest-remainder rounding) and promises one "
            "merchant transfer per member reward of 0.1 yuan or more, and one per member and community for their "
            "owed rewards under 0.1 yuan once these add up to 0.1 yuan: the worker sends it and the member confirms "
            "it in the mini program. `nothing_to_allocate` when no community meets the pool's "
            "thresholds with a member contribution; `reward_too_large` when a member's share is above what one "
            "transfer carries without a real name (1,999.99 yuan): nothing is recorded, a smaller pool commits. "
            "`pool_window_open` until the window's last local day is over (and a few minutes for the roll-up); "
            "`pool_rollup_pending` after that while the metrics roll-up (the worker's) has not yet run over the "
            "whole window."
        ),
        status_code=200,
        responses=PROBLEMS.responses(
            "operator_only",
            "pool_not_found",
            "pool_window_open",
            "pool_rollup_pending",
            "nothing_to_allocate",
            "reward_too_large",
        ),
    )
    async def commit(self, pool_id: PathId, db: Db, settings: AppSettings) -> RewardPool:
        return await rewards.commit_pool(db, settings, pool_id)


class MyRewardsController(Controller):
    path = "/me/rewards"
    tags = ["rewards"]
    security = BEARER_SECURITY

    @get(
        "/",
        operation_id="myRewards",
        summary="My rewards from committed pools, newest first",
        responses=PROBLEMS.responses("unauthorized", "token_expired"),
    )
    async def my_rewards(
        self,
        user: CurrentUser,
        db: Db,
        limit: Limit = 20,
        cursor: Annotated[str | None, QueryParameter(pattern=r"^[1-9][0-9]{0,15}$(?!\n)")] = None,
    ) -> MyRewards:
        before = int(cursor) if cursor else None
        if before is not None and before > MAX_ID:
            raise Problem("validation_failed", "cursor out of range")
        rows = await db.fetch(rq.MY_REWARDS, user.id, before, limit + 1, MIN_TRANSFER_FEN)
        items = [
            MyReward(
                id=str(r["id"]),
                pool_id=str(r["pool_id"]),
                community_id=str(r["community_id"]),
                amount_fen=r["amount_fen"],
                status=r["status"],
                transfer_id=str(r["transfer_id"]) if r["transfer_id"] else None,
                start=r["window_from"],
                end=r["window_to"],
                created_at=r["created_at"],
                owed_reason=r["owed_reason"],
            )
            for r in rows[:limit]
        ]
        return MyRewards(items=items, next_cursor=items[-1].id if len(rows) > limit else None)

    @post(
        "/{reward_id:str}/transfer",
        operation_id="transferMyReward",
        summary="Ask again for an owed reward's transfer (its transfer failed or was returned, or it is small)",
        description=(
            "201 with a new merchant transfer when the reward has none (`owedReason` `transferable`): its transfer "
            "failed or was not confirmed within 24 hours. A reward under 0.1 yuan is sent together with your other "
            "owed rewards under 0.1 yuan in its community, in one transfer, once they add up to 0.1 yuan "
            "(`reward_below_minimum` before). 200 with the transfer it already has while that one is open: a retry, "
            "with or without `Idempotency-Key`, never makes a second. Confirm it with `wx.requestMerchantTransfer` "
            "(mchId, appId, packageInfo) once `GET /v1/transfers/{id}` shows `waitUserConfirm` (the worker sends "
            "it within seconds)."
        ),
        status_code=201,
        responses=PROBLEMS.responses(
            "unauthorized",
            "token_expired",
            "reward_not_found",
            "reward_already_paid",
            "reward_below_minimum",
            "idempotency_key_reused",
        ),
    )
    async def transfer(
        self, reward_id: PathId, user: CurrentUser, db: Db, pay: Pay, idempotency_key: IdempotencyKey = None
    ) -> Response[Transfer]:
        return await payouts.transfer_reward(db, pay, reward_id, user.id, idempotency_key)


CONTROLLERS = [InteractionsController, MetricsController, RewardPoolsController, MyRewardsController]
