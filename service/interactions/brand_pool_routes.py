"""HTTP routes of brand-funded reward pools (brand_pools.py, docs/brands.md): thin handlers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from service.core.deps import AppSettings, Db, Pay
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.money.examples import ORDER
from service.core.money.models import Refund
from service.interactions import brand_pools
from service.interactions.models import (
    BrandRewardPool,
    BrandRewardPoolCreate,
    CommunityAllocation,
    MemberAllocation,
)
from service.interactions.problems import PROBLEMS
from service.openapi import answer

AUTH = ("unauthorized", "token_expired")
TEAM = (*AUTH, "not_found", "forbidden", "pool_not_found")
PAYING = ("payment_unavailable", "order_already_paid", "conflict", "pool_cancelled")
_AT = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
_DAY = date(2025, 5, 1)

UNPAID = BrandRewardPool(
    id="12",
    brand_id="7",
    amount_fen=50000,
    start=_DAY,
    end=date(2025, 5, 31),
    status="unpaid",
    allocated_fen=0,
    unallocated_fen=50000,
    communities=[],
    created_at=_AT,
    order=ORDER,
)
COMMITTED = BrandRewardPool(
    id="12",
    brand_id="7",
    amount_fen=50000,
    start=_DAY,
    end=date(2025, 5, 31),
    status="committed",
    allocated_fen=50000,
    unallocated_fen=0,
    communities=[
        CommunityAllocation(
            community_id="42",
            activity_score=76.25,
            amount_fen=50000,
            members=[
                MemberAllocation(user_id="1001", contribution=9, amount_fen=30000),
                MemberAllocation(user_id="1002", contribution=6, amount_fen=20000),
            ],
        )
    ],
    created_at=_AT,
    order_id="6001",
    paid_at=_AT,
    committed_at=_AT,
)
CANCELLED = msgspec.structs.replace(
    UNPAID,
    status="cancelled",
    order=None,
    order_id="6001",
    paid_at=_AT,
    cancelled_at=_AT,
    refund=Refund(
        id="7001",
        amount_fen=50000,
        status="pending",
        initiated_by="admin",
        reason="pool_cancelled: 奖励池已取消",
        notice="奖励池已取消，款项原路退回",
        created_at=_AT,
    ),
)
POOL = answer(200, COMMITTED, "a committed pool", "The pool")


class BrandRewardPoolsController(Controller):
    path = "/brands/{brand_id:str}/reward-pools"
    tags = ["rewards"]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createBrandRewardPool",
        summary="Create a reward pool for the brand's communities and get its order (the brand's owner)",
        description=(
            "Pay `order.payment` with `wx.requestPayment`; the pool is `unpaid` until the payment arrives, then "
            "`draft`. It is split over the brand's communities by activity score over `start`..`end` (local days), "
            "then over each community's members by contribution, to the fen. Only the brand's owner funds pools "
            "(brand admins: `forbidden`); a brand without communities: `brand_has_no_communities`. The same "
            "`Idempotency-Key` answers the same pool (200) with its still-payable order."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *AUTH,
                "not_found",
                "forbidden",
                "window_too_long",
                "brand_has_no_communities",
                "idempotency_key_reused",
                *PAYING,
            ),
            **answer(201, UNPAID, "the pool and its order", "The new pool and the order that pays it"),
            **answer(200, UNPAID, "the same pool", "The pool of this Idempotency-Key"),
        },
    )
    async def create(
        self,
        brand_id: PathId,
        data: JSONBody[BrandRewardPoolCreate],
        caller: CurrentUser,
        state: State,
        pay: Pay,
        settings: AppSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BrandRewardPool]:
        return await brand_pools.create(state.pool, pay, settings, brand_id, caller.id, data, idempotency_key)

    @get(
        "/{pool_id:str}",
        operation_id="getBrandRewardPool",
        summary="A brand's reward pool (its team): the preview once paid, the recorded allocation once committed",
        description="Its payer also sees the order to pay while it is unpaid, and the refund once cancelled.",
        responses={**PROBLEMS.responses(*TEAM), **POOL},
    )
    async def read(
        self, brand_id: PathId, pool_id: PathId, user: CurrentUser, db: Db, pay: Pay, settings: AppSettings
    ) -> BrandRewardPool:
        return await brand_pools.read(db, pay, settings, brand_id, pool_id, user.id)

    @post(
        "/{pool_id:str}/pay",
        operation_id="payBrandRewardPool",
        summary="The order of an unpaid pool again: the still-payable one, or a new one once it expired (owner)",
        description="A paid or committed pool answers as it is; a cancelled one `pool_cancelled`.",
        status_code=200,
        responses={**PROBLEMS.responses(*TEAM, *PAYING), **answer(200, UNPAID, "an unpaid pool", "The pool")},
    )
    async def pay_again(
        self, brand_id: PathId, pool_id: PathId, caller: CurrentUser, state: State, pay: Pay, settings: AppSettings
    ) -> BrandRewardPool:
        return await brand_pools.pay_again(state.pool, pay, settings, brand_id, pool_id, caller.id)

    @post(
        "/{pool_id:str}/commit",
        operation_id="commitBrandRewardPool",
        summary="Commit a paid pool's allocation once and pay its members out (the brand's owner; idempotent)",
        description=(
            "Records the allocation the preview shows (integer fen, largest-remainder rounding: the members' fen "
            "add up to the pool exactly) and promises the members' merchant transfers as for the operator's pools "
            "(smaller rewards than 0.1 yuan together once they reach it). A repeat returns the recorded allocation. "
            "`pool_not_paid` before the payment arrives; `pool_window_open` until the window's last local day is "
            "over (and a few minutes for the roll-up), `pool_rollup_pending` while the metrics roll-up has not yet "
            "run over the whole window; `nothing_to_allocate` when no community of the brand "
            "qualifies, `reward_too_large` when a member's share is above what one transfer carries without a real "
            "name (1,999.99 yuan; cancel to get the money back either way)."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(
                *TEAM,
                "pool_not_paid",
                "pool_cancelled",
                "pool_window_open",
                "pool_rollup_pending",
                "nothing_to_allocate",
                "reward_too_large",
            ),
            **POOL,
        },
    )
    async def commit(
        self, brand_id: PathId, pool_id: PathId, user: CurrentUser, db: Db, settings: AppSettings
    ) -> BrandRewardPool:
        return await brand_pools.commit(db, settings, brand_id, pool_id, user.id)

    @post(
        "/{pool_id:str}/cancel",
        operation_id="cancelBrandRewardPool",
        summary="Call off a pool before it is committed (the brand's owner): refunded in full if it was paid",
        description=(
            "An unpaid pool's order is closed at WeChat Pay; a paid pool's payment is refunded in full (`refund`, "
            "its reason starts with `pool_cancelled`). A committed pool cannot be cancelled (`pool_committed`). "
            "Cancelling again answers the pool as it is."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(*TEAM, "pool_committed", "payment_unavailable", "order_paid_out"),
            **answer(200, CANCELLED, "a paid pool cancelled: its refund", "The pool"),
        },
    )
    async def cancel(
        self, brand_id: PathId, pool_id: PathId, caller: CurrentUser, state: State, pay: Pay, settings: AppSettings
    ) -> BrandRewardPool:
        return await brand_pools.cancel(state.pool, pay, settings, brand_id, pool_id, caller.id)
