"""HTTP routes of trial places for check-in points: a poll's offer (its admins), redeeming a place (members) and my
points in a brand (over points.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.params import Body, QueryParameter

from service.core.deps import Db, Store
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import ID_PATTERN, MAX_ID, PathId
from service.core.media import signed_json
from service.polls import examples as ex
from service.polls import models as m
from service.polls import points
from service.polls.problems import PROBLEMS
from service.polls.responses import AUTH, POLL_ADMIN, POLL_MEMBER, POLLS_TAG, TRIALS_TAG, ok

BrandIdQuery = Annotated[
    int,
    QueryParameter(
        name="brandId",
        ge=1,
        le=MAX_ID,
        description="The brand whose points to count",
        schema_extra={"type": "string", "pattern": ID_PATTERN},
    ),
]
OFFER_DESCRIPTION = (
    "Only where the community's brand lets members spend check-in points (`points_not_spendable` otherwise, and "
    "for a community without a brand). Members redeem places from the poll's close until its claim window ends "
    "(docs/polls.md)."
)


class PollPointsController(Controller):
    """A poll's trial places for check-in points."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @put(
        "/{poll_id:str}/trial-points",
        operation_id="setPollTrialPoints",
        summary="Offer the poll's free-trial places for check-in points, or change the offer (admins)",
        description=OFFER_DESCRIPTION
        + " `places` counts every place ever sold for points: it cannot go below those already redeemed "
        "(`points_places_below_redeemed`); a new `price` applies to later redemptions.",
        tags=[TRIALS_TAG],
        responses={
            **PROBLEMS.responses(*POLL_ADMIN, "points_not_spendable", "points_places_below_redeemed"),
            **ok(200, m.Poll, "The poll with its offer (`trialPoints`)", "offered", ex.POLL),
        },
    )
    async def set_offer(
        self,
        poll_id: PathId,
        data: Annotated[m.TrialPointsOffer, Body(examples=ex.example("30 points a place, 10 places", ex.TRIAL_POINTS))],
        user: CurrentUser,
        db: Db,
        storage: Store,
    ) -> Response[m.Poll]:
        return await signed_json(storage, await points.set_offer(db, poll_id, user.id, data))

    @delete(
        "/{poll_id:str}/trial-points",
        operation_id="withdrawPollTrialPoints",
        summary="Stop offering trial places for points (admins); places already redeemed stay",
        tags=[TRIALS_TAG],
        status_code=200,
        responses={
            **PROBLEMS.responses(*POLL_ADMIN),
            **ok(200, m.Poll, "The poll without an offer", "withdrawn", ex.POLL),
        },
    )
    async def withdraw_offer(self, poll_id: PathId, user: CurrentUser, db: Db, storage: Store) -> Response[m.Poll]:
        return await signed_json(storage, await points.withdraw_offer(db, poll_id, user.id))

    @post(
        "/{poll_id:str}/trial-redemptions",
        operation_id="redeemTrialWithPoints",
        summary="Spend my check-in points on one of the poll's free-trial places (members, once the poll closed)",
        description=(
            "The price comes off my points in the community's brand (`GET /v1/me/points?brandId=`): earned by "
            "check-ins in the brand's communities, less what I spent there. The place is a free-trial qualification "
            "(reason `redeemed`, `position` = the order of redemption) claimed, shipped and rated like any other. "
            "From the poll's close until `trialPoints.redeemableUntil` (`trial_redemption_closed` before and after); "
            "one qualification per member and poll (`trial_already_held`, also for its winners). Exact under "
            "parallel requests: never more places than offered, never more points than I have. Send an "
            "`Idempotency-Key` to retry safely: a retry with it answers the first 201; without it, "
            "`trial_already_held`."
        ),
        tags=[TRIALS_TAG],
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *POLL_MEMBER,
                "points_not_spendable",
                "no_points_offer",
                "trial_redemption_closed",
                "trial_already_held",
                "no_places_left",
                "not_enough_points",
                "idempotency_key_reused",
            ),
            **ok(201, m.Trial, "My new qualification", "redeemed", ex.REDEEMED),
        },
    )
    async def redeem(
        self, poll_id: PathId, user: CurrentUser, db: Db, idempotency_key: IdempotencyKey = None
    ) -> Response[m.Trial]:
        return await points.redeem(db, poll_id, user.id, idempotency_key)


class MyPointsController(Controller):
    path = "/me/points"
    tags = [TRIALS_TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getMyPoints",
        summary="My check-in points in a brand: earned in its communities, spent on trial places, available",
        description="Anyone signed in, for their own points; `spendable`: whether the brand lets members spend them.",
        responses={
            **PROBLEMS.responses(*AUTH, "not_found"),
            **ok(200, m.PointsBalance, "My points in the brand", "points", ex.POINTS),
        },
    )
    async def mine(self, user: CurrentUser, db: Db, brand_id: BrandIdQuery) -> m.PointsBalance:
        return await points.my_points(db, brand_id, user.id)
